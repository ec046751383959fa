grad {model} --data {data} --unconstrained '["a"]'
