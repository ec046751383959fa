fit {model} --data {data} --method pathfinder --num-elbo-draws 100001
