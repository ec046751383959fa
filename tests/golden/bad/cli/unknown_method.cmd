fit {model} --data {data} --method gibbs
