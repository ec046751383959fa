eval {model} --data {data} --fit bad/cli/eval_fit_mu_not_numbers.fit.json
