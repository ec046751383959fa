fit {model} --data {data} --method pathfinder --draws 5 --num-paths 2
