fit {model} --data {data} --method map
