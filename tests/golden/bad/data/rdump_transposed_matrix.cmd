grad {model} --data bad/data/rdump_transposed_matrix.data.R --seed 1
