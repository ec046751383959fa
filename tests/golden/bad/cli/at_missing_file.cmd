grad {model} --data {data} --at bad/cli/no_such_at.json
