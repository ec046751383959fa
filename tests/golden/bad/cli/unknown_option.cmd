check {model} --verbose
