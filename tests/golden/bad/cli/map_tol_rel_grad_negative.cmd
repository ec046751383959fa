fit {model} --data {data} --method map --tol-rel-grad -1
