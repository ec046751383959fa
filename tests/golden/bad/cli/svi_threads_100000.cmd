fit {model} --data {data} --method svi --quiet --threads 100000
