grad {model} --data bad/cli/no_such_data.json
