fit {model} --data {data} --method nuts --max-depth 0
