fit {model} --data {data} --method map --init bad/runtime/mixing_proportion_out_of_range.init.json
