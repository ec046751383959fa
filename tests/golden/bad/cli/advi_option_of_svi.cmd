fit {model} --data {data} --method advi --batch 10
