fit {model} --data {data} --method svi --epochs 1 --threads 1 --quiet
