fit {model} --data {data} --method dadvi --family diagonal
