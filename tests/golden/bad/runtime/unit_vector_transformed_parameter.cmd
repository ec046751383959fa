grad {model} --data {data} --at bad/runtime/unit_vector_transformed_parameter.at.json
