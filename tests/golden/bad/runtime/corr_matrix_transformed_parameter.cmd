grad {model} --data {data} --at bad/runtime/corr_matrix_transformed_parameter.at.json
