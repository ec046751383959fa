fit {model} --data {data} --method svi --quiet --optimizer stan
