fit {model} --data {data} --method nuts --thin 0
