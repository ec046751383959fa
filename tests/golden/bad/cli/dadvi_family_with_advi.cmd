fit {model} --data {data} --method advi --family fullrank
