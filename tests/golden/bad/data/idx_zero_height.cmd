fit {model} --data bad/data/idx_zero_height-images-idx3-ubyte --method svi --quiet
