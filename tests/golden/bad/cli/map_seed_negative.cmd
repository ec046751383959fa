fit {model} --data {data} --method map --seed -1
