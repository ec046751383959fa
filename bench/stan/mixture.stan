// tests/data/posteriordb/low_dim_gauss_mix.lat in the array syntax of Stan 2.21 (rstan).
data {
  int<lower=0> N;
  vector[N] y;
}
parameters {
  real mu_1;
  real<lower=mu_1> mu_2;
  real<lower=0> sigma[2];
  real<lower=0, upper=1> theta;
}
model {
  sigma ~ normal(0, 2);
  mu_1 ~ normal(0, 2);
  mu_2 ~ normal(0, 2);
  theta ~ beta(5, 5);
  for (n in 1:N)
    target += log_mix(theta, normal_lpdf(y[n] | mu_1, sigma[1]),
                             normal_lpdf(y[n] | mu_2, sigma[2]));
}
