grad {model} --data bad/cli
