fit {model} --data {data} --method nuts -o draws.json
