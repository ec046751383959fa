fit {model} --data {data} --method advi --k 5
