fit {model} --data {data} --method map --init bad/runtime/rate_negative.init.json
