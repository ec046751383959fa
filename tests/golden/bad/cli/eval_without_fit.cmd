eval {model} --data {data}
