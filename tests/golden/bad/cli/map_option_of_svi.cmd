fit {model} --data {data} --method map --threads 2
