fit {model} --data {data} --method svi --quiet
