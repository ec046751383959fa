eval {model} --data {data} --fit bad/cli/eval_iwae_zero_advi_fit.fit.json --iwae 0
