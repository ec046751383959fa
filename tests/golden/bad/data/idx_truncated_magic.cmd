fit {model} --data bad/data/idx_truncated_magic-images-idx3-ubyte --method svi --quiet
