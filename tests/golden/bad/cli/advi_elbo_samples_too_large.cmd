fit {model} --data {data} --method advi --elbo-samples 1000000000
