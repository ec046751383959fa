fit {model} --data {data} --method nuts
