grad {model} --data {data} --at bad/cli/at_value_outside_constraint.at.json
