fit {model} --data {data} --method nuts --metric diag
