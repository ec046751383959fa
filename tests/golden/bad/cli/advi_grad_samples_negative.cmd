fit {model} --data {data} --method advi --grad-samples -1
