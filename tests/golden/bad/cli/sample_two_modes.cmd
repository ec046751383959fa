sample {model} --fit x.fit --n 4 --reconstruct 0-3 --png x.png
