fit {model} --data {data} --method map --init bad/runtime/transformed_parameter_above_bound.init.json
