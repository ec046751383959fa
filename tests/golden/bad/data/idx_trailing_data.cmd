fit {model} --data bad/data/idx_trailing_data-images-idx3-ubyte --method svi --quiet
