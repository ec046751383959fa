fit {model} --data {data} --method advi --draws -1
