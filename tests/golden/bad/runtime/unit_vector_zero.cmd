grad {model} --data {data} --unconstrained [0,0]
