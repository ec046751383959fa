fit {model} --data bad/data/idx_float_elements-images-idx3-ubyte --method svi --quiet
