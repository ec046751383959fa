summary {model} --csv --json
