fit {model} --data bad/data/idx_empty-images-idx3-ubyte --method svi --quiet
