fit {model} --data {data} --method svi --quiet --threads 5000
