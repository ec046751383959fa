eval {model} --data {data} --fit {data}
