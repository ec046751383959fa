grad {model} --data bad/data/rdump_list.data.R --seed 1
