fit {model} --data {data} --method svi --batch 2 --epochs 1 -q
