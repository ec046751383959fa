ir {model} --data {data} --method sample --step decoder --batch 2 --stage objective
