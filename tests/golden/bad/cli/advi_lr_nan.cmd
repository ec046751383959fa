fit {model} --data {data} --method advi --lr nan
