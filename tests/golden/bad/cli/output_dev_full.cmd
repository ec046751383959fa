fit {model} --data {data} --method map --quiet -o /dev/full
