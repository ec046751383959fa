ir {model} --data {data} --stage objective
