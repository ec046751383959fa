fit {model} --data {data} --method map --init bad/runtime/vector_scale_not_positive.init.json
