grad {model} --data bad/data/rdump_dim_mismatch.data.R --seed 1
