fit {model} --data {data} --method map --iter 0
