fit {model} --data {data} --method svi --quiet --batch 0
