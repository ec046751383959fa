fit {model} --method svi
