grad {model} --data {data} --at bad/runtime/grad_failed_check.at.json
