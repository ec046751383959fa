fit {model} --data {data} --method map --iter ten
