fit {model} --data bad/data/idx_truncated_dimensions-images-idx3-ubyte --method svi --quiet
