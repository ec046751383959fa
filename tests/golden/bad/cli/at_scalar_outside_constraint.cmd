grad {model} --data {data} --at bad/cli/at_scalar_outside_constraint.at.json
