fit {model} --data {data} --method map --init bad/runtime/probability_out_of_range.init.json
