eval {model} --data {data} --fit bad/cli/eval_fit_without_mu.fit.json
