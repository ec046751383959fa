fit {model} --data {data} --method advi --eval-elbo 0
