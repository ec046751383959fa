fit {model} --data bad/data/idx_label_count-images-idx3-ubyte --method svi --quiet
