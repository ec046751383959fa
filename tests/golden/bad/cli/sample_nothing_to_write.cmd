sample {model} --fit x.fit --n 4
