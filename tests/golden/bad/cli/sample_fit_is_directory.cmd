sample {model} --fit bad/cli --csv out.csv
