grad {model} --data bad/data/rdump_syntax_error.data.R --seed 1
