// The configuration comments CmdStan writes at the top of its optimize and
// variational CSV files, for latent's MAP and ADVI output: the same keys, nesting
// and "(Default)" marks as CmdStan 2.2x, so that CmdStan CSV readers
// (rstan::read_stan_csv for variational output, cmdstanr, cmdstanpy) read them.
// The first line names latent and its version where CmdStan names Stan's, as the
// sampler's CSV does (stan_csv.hpp); nothing else is latent's own.
#pragma once

#include <cstdint>
#include <string>

namespace latent {

// Paths and seed, as given on the command line.
struct RunFiles {
  std::string model, data, init = "2", output;  // output: the CSV file ("" for standard output)
  uint64_t seed = 0;
};

struct OptimizeConfig {
  RunFiles files;
  int iterations = 2000;
  double tol_rel_obj = 1e4, tol_rel_grad = 1e7;
  bool jacobian = false;
};

struct VariationalConfig {
  RunFiles files;
  bool full_rank = false;
  int iterations = 10000, grad_samples = 1, elbo_samples = 100, eval_elbo = 100, output_samples = 1000;
  double eta = 1, tol_rel_obj = 0.01;
  bool adapt = true;
};

// "# key = value" lines, each ending with a new line.
std::string optimize_config_comment(const OptimizeConfig& config);
std::string variational_config_comment(const VariationalConfig& config);

// What CmdStan writes after the header row of a variational CSV when the step
// size was adapted: "# Stepsize adaptation complete.\n# eta = 1\n".
std::string variational_adaptation_comment(double eta);

}  // namespace latent
