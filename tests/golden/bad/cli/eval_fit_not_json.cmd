eval {model} --data {data} --fit {model}
