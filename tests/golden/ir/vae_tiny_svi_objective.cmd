ir {model} --data {data} --method svi --batch 2 --kl analytic --stage objective
