fit {model} --data {data} --method svi --quiet --init bad/cli/no_such_init.json
