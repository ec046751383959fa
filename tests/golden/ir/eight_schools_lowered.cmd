ir {model} --data {data} --stage lowered
