fit {model} --data {data} --method pathfinder --history-size 0
