fit {model} --data {data} --method nuts --warmup -5
