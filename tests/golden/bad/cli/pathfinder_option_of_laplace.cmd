fit {model} --data {data} --method laplace --num-paths 2
