grad {model} --data {data} --at bad/runtime/grad_reject.at.json
