fit {model} --data {data} --method map --init bad/functions/reject_in_function.init.json
