fit {model} --data {data} --method map --draws 5
