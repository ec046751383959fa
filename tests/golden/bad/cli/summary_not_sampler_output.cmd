summary {model}
