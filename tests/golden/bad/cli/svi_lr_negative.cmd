fit {model} --data {data} --method svi --quiet --lr -0.1
