fit {model} --data {data} --method nuts -o a.csv -o b.csv
