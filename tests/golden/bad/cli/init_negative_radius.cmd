fit {model} --method advi --init -1.5
