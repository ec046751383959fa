fit {model} --data {data} --method nuts --adapt-delta 1
