grad {model} --data {data} --at bad/cli/at_simplex_not_summing_to_one.at.json
