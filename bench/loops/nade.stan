data { int D; int H; array[D] int<lower=0, upper=1> x; }
parameters { matrix[H, D] W; matrix[D, H] V; vector[D] b; vector[H] c; }
model {
  vector[H] a = c;
  to_vector(W) ~ normal(0, 1);
  to_vector(V) ~ normal(0, 1);
  for (d in 1:D) {
    x[d] ~ bernoulli_logit(b[d] + V[d] * inv_logit(a));
    a = a + col(W, d);
  }
}
