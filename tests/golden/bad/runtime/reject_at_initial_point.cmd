fit {model} --data {data} --method map --init bad/runtime/reject_at_initial_point.init.json
