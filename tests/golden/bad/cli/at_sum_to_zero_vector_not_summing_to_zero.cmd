grad {model} --data {data} --at bad/cli/at_sum_to_zero_vector_not_summing_to_zero.at.json
