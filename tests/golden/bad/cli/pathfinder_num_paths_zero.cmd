fit {model} --data {data} --method pathfinder --num-paths 0
