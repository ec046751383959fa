fit {model} --data {data} --method advi --tol-rel-obj -0.5
