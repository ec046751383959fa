grad {model} --data {data}
