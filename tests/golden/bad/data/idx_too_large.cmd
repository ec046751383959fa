fit {model} --data bad/data/idx_too_large-images-idx3-ubyte --method svi --quiet
