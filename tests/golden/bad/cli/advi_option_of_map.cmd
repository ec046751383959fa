fit {model} --data {data} --method advi --jacobian
