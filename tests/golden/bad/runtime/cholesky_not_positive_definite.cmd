grad {model} --data {data} --at bad/runtime/cholesky_not_positive_definite.at.json
