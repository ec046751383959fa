fit {model} --data bad/data/idx_wrong_rank-images-idx3-ubyte --method svi --quiet
