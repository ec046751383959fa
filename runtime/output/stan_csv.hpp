// CmdStan's sampler output, one file per chain, written and read back:
//
//   # latent = 0.1.0                   configuration as CmdStan prints it:
//   # method = sample (Default)        indented "key = value" comment lines
//   #   sample
//   #     num_samples = 1000 ...
//   lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,mu,theta.1
//   # Adaptation terminated
//   # Step size = 0.73
//   # Diagonal elements of inverse mass matrix:
//   # 1.2, 0.8
//   -7.3,0.91,0.73,3,7,0,9.1,1.5,0.25      one row per kept draw
//   #
//   #  Elapsed Time: 0.01 seconds (Warm-up)
//   #                0.02 seconds (Sampling)
//   #                0.03 seconds (Total)
//   #
//
// This is the layout rstan::read_stan_csv() and the posterior package read.
#pragma once

#include "runtime/inference/chains.hpp"
#include "runtime/inference/summary.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

// What the header comments record about a run.
struct SamplerConfig {
  std::string model, data, init = "2", output;
  uint64_t seed = 0;
  int chain_id = 1, num_chains = 1;
  int64_t warmup = 1000, samples = 1000, thin = 1;
  int max_depth = 10;
  double adapt_delta = 0.8, step_size = 1;
  MetricKind metric = MetricKind::diagonal;
};

// The CSV text of one chain.
std::string stan_csv_text(const SamplerConfig& config, const std::vector<std::string>& columns,
                          const ChainResult& chain);

// Reads a CmdStan sampler CSV (latent's or CmdStan's; the table through
// data/draws_csv.hpp): the kept draws after warm-up (warm-up rows of
// save_warmup = 1 files are skipped), max_depth and the elapsed times. Throws
// UserError naming the file (and line).
ChainTable read_stan_csv(const std::string& path);

}  // namespace latent
