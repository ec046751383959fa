fit {model} --data {data} --method laplace -q
