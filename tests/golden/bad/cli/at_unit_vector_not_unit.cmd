grad {model} --data {data} --at bad/cli/at_unit_vector_not_unit.at.json
