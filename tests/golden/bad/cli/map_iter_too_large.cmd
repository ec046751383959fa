fit {model} --data {data} --method map --iter 99999999999
