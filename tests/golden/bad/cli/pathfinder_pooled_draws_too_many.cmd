fit {model} --data {data} --method pathfinder --draws 600000 --num-paths 2
