grad {model} --data /dev/zero
