fit {model} --data {data} --method map --init bad/runtime/intdiv_by_zero_runtime.init.json
