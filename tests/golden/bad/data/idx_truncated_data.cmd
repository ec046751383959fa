fit {model} --data bad/data/idx_truncated_data-images-idx3-ubyte --method svi --quiet
