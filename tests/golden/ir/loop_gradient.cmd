ir {model} --data {data} --stage gradient
