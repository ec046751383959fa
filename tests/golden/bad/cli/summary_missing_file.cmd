summary bad/cli/summary_missing_file.csv
