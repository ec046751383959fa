fit {model} --data {data} --method nuts --samples 0
