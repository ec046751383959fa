fit {model} --data {data} --method svi --quiet --tol-rel-grad 10
