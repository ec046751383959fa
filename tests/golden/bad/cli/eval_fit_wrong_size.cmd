eval {model} --data {data} --fit bad/cli/eval_fit_wrong_size.fit.json
