eval {model} --data {data} --iwae 1000000000
