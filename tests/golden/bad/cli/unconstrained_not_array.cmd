grad {model} --data {data} --unconstrained 3
