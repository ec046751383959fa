fit {model} --data {data} --method map --init bad/runtime/index_out_of_range.init.json
