ir {model} --data {data} --method svi --batch 2 --stage lowered
