fit {model} --data {data} --method map --init bad/runtime/not_finite.init.json
