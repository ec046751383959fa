fit {model} --data fashion-mnist:dev --method svi --quiet
