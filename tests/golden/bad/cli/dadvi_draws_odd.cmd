fit {model} --data {data} --method dadvi --dadvi-draws 31
