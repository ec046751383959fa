fit {model} --data {data} --method map --init bad/cli
