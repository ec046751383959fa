fit {model} --data {data} --method map --init bad/cli/no_such_init.json
