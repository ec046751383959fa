fit {model} --data {data} --method svi -o a.fit -o b.fit
