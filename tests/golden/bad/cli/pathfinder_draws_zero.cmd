fit {model} --data {data} --method pathfinder --draws 0
