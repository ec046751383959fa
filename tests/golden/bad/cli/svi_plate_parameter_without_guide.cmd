fit {model} --data {data} --method svi --epochs 1 --batch 3 --quiet
