eval {model} --data {data} --fit bad/cli
