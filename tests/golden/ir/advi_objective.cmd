ir {model} --data {data} --method advi --grad-samples 2 --stage objective
