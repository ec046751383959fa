eval {model} --data {data} --fit bad/cli/no_such_fit.json
