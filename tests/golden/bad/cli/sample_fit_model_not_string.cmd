sample {model} --data {data} --fit bad/cli/sample_fit_model_not_string.fit --csv out.csv
