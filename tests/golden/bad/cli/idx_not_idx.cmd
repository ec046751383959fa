fit {model} --data bad/cli/idx_not_idx-images-idx3-ubyte --method svi --quiet
