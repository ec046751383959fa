check {model} --data x.json
