grad {model} --data {data} --at bad/cli/at_wrong_shape.at.json
