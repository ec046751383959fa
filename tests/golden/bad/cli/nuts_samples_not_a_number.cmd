fit {model} --data {data} --method nuts --samples many
