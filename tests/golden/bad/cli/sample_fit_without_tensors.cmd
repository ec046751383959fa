sample {model} --data {data} --fit bad/cli/sample_fit_without_tensors.fit --csv out.csv
