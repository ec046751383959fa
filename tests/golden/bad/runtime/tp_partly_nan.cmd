fit {model} --data {data} --method map --init bad/runtime/tp_partly_nan.init.json
