eval {model} --data {data} --fit bad/cli/eval_fit_family_not_string.fit.json
