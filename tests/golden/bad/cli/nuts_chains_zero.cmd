fit {model} --data {data} --method nuts --chains 0
