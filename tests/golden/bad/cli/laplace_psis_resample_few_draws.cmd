fit {model} --data {data} --method laplace --draws 10 --psis-resample -q
