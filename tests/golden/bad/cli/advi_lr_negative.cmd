fit {model} --data {data} --method advi --lr -1
