fit {model} --method dadvi --init 0
