fit {model} --data {data} --method map --init bad/runtime/scale_not_positive.init.json
