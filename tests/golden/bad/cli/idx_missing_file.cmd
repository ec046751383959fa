fit {model} --data bad/cli/no-such-images-idx3-ubyte --method svi --quiet
