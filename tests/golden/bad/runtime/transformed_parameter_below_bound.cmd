fit {model} --data {data} --method map --init bad/runtime/transformed_parameter_below_bound.init.json
