# Fixtures for tests/unit/test_summary.cpp: fixed draws and the diagnostics that
# rstan 2.21 (Debian's r-cran-rstan 2.21.7) computes for them. Regenerate with
#   Rscript tests/data/rstan_diagnostics.R > tests/data/rstan_diagnostics.json
# The draws are rounded to 4 decimals before anything is computed, so the JSON
# holds them exactly. Each split chain has a length whose only prime factors are
# 2, 3 and 5 (rstan's FFT autocovariance is exact there; see diagnostics.hpp).
suppressMessages(library(rstan))
library(jsonlite)
set.seed(20261201)

ar1 <- function(n, phi, innovations = rnorm(n)) {
  x <- numeric(n)
  x[1] <- innovations[1] / sqrt(1 - phi^2)
  for (t in 2:n) x[t] <- phi * x[t - 1] + innovations[t]
  x
}

cases <- list()
add <- function(name, sims) {
  sims <- round(sims, 4)
  cases[[length(cases) + 1]] <<- list(
    name = name,
    draws = lapply(seq_len(ncol(sims)), function(j) sims[, j]),  # one array per chain
    rhat = rstan::Rhat(sims),
    ess_bulk = rstan::ess_bulk(sims),
    ess_tail = rstan::ess_tail(sims),
    ess_mean = rstan:::ess_mean(sims),
    mcse_mean = rstan:::mcse_mean(sims),
    mean = mean(sims), sd = sd(sims),
    q5 = unname(quantile(sims, 0.05)), q50 = unname(quantile(sims, 0.5)), q95 = unname(quantile(sims, 0.95)))
}

add("mixing_ar1", sapply(1:4, function(i) ar1(200, 0.7)))
add("shifted_chains", sapply(c(0, 0, 0.5, 1), function(m) m + ar1(200, 0.5)))
add("odd_length_heavy_tails", sapply(1:3, function(i) ar1(101, 0.3, rt(101, df = 3))))
add("ties", sapply(1:2, function(i) rpois(100, 2)))
add("one_chain", matrix(ar1(400, 0.9), ncol = 1))
add("trend_within_chains", sapply(1:4, function(i) seq(-1, 1, length.out = 100) + rnorm(100, sd = 0.5)))
add("scale_differs", sapply(c(1, 1, 1, 3), function(s) s * ar1(100, 0.2)))

cat(toJSON(list(generator = "tests/data/rstan_diagnostics.R", rstan = as.character(packageVersion("rstan")),
                cases = cases), auto_unbox = TRUE, digits = NA, pretty = TRUE))
cat("\n")
