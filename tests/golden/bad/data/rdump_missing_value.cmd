grad {model} --data bad/data/rdump_missing_value.data.R --seed 1
