fit {model} --data {data} --method laplace --grad-samples 3
