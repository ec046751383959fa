eval {model} --data {data} --fit bad/cli/eval_svi_option_for_advi_fit.fit.json --threads 2
