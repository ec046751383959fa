fit {model} --data {data} --method nuts --chains 1 --seed 1 -q
