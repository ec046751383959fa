data { int<lower=0> T; array[T] real r; real<lower=0> sigma1; }
parameters { real mu; real<lower=0> alpha0; real<lower=0, upper=1> alpha1; real<lower=0, upper=(1 - alpha1)> beta1; }
model {
  // GARCH(1,1) with its recursion written as a while loop (a counted loop: a scan).
  real sigma = sigma1;
  int t = 1;
  while (t <= T) {
    r[t] ~ normal(mu, sigma);
    if (t < T) sigma = sqrt(alpha0 + alpha1 * pow(r[t] - mu, 2) + beta1 * pow(sigma, 2));
    t += 1;
  }
}
