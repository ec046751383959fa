# stan_rdump output, edited by hand
N <- 3L
y <- c(1.5, 2.5
3.5)
