grad {model} --data bad/data/rdump_twice.data.R --seed 1
