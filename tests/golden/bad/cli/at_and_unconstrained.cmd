grad {model} --data {data} --at {data} --unconstrained [0]
