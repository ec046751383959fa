sample {model} --fit bad/cli/x.fit --n 1000000000 --csv out.csv
