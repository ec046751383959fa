frobnicate {model}
