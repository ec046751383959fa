grad {model} --data bad/data/rdump_real_for_int.data.R --seed 1
