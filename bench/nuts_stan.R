# Stan's side of bench/nuts_benchmark.py: compiles one model with rstan (Debian's
# r-cran-rstan, Stan 2.21) and samples it like `latent fit --method nuts`:
# 4 chains of 1000 warm-up and 1000 sampling iterations, adapt_delta 0.8, diag_e.
# Each repetition runs with cores = 1 (chains one after another in this process)
# and cores = 2 (rstan's cluster of worker processes); the minimum bulk ESS over
# parameters and transformed parameters is rstan's ess_bulk().
# Usage: Rscript bench/nuts_stan.R MODEL.stan DATA.json REPS FIRST_SEED OUT.json
args <- commandArgs(trailingOnly = TRUE)
model_file <- args[1]; data_file <- args[2]; reps <- as.integer(args[3])
first_seed <- as.integer(args[4]); out_file <- args[5]
suppressMessages({
  library(rstan)
  library(jsonlite)
})
rstan_options(boost_lib = "/usr/include", auto_write = FALSE)  # Debian's packaging; always compile
data <- fromJSON(data_file, simplifyVector = TRUE)

compile_seconds <- system.time(
  model <- stan_model(model_file, model_name = sub("\\.stan$", "", basename(model_file)))
)[["elapsed"]]

runs <- list()
for (rep in seq_len(reps)) {
  for (cores in c(1L, 2L)) {
    seed <- first_seed + rep - 1L
    wall <- system.time(
      fit <- sampling(model, data = data, chains = 4, iter = 2000, warmup = 1000, seed = seed, cores = cores,
                      refresh = 0, control = list(adapt_delta = 0.8, max_treedepth = 10))
    )[["elapsed"]]
    sims <- as.array(fit)  # iterations x chains x columns
    columns <- setdiff(dimnames(sims)[[3]], "lp__")
    ess <- sapply(columns, function(p) ess_bulk(sims[, , p]))
    rhat <- sapply(columns, function(p) Rhat(sims[, , p]))
    sampler <- get_sampler_params(fit, inc_warmup = TRUE)
    times <- get_elapsed_time(fit)
    runs[[length(runs) + 1]] <- list(
      cores = cores, seed = seed, wall_seconds = wall,
      chain_seconds = unname(rowSums(times)),
      min_ess_bulk = min(ess), min_ess_column = names(which.min(ess)), max_rhat = max(rhat),
      divergences = sum(sapply(sampler, function(s) sum(s[1001:2000, "divergent__"]))),
      leapfrogs = sum(sapply(sampler, function(s) sum(s[, "n_leapfrog__"]))))
  }
}
writeLines(toJSON(list(compile_seconds = compile_seconds, runs = runs), auto_unbox = TRUE, digits = NA), out_file)
