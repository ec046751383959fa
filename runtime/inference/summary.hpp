// The summary of MCMC draws that Stan users read after sampling (as CmdStan's
// stansummary and R's posterior::summarise_draws): per column the mean, its
// Monte Carlo standard error, sd, 5/50/95% quantiles, rank-normalised split
// R-hat and bulk and tail ESS (runtime/inference/diagnostics.hpp); per run the
// divergences, tree-depth saturation and E-BFMI of each chain; and a warning
// for each problem, with Stan's thresholds.
#pragma once

#include "runtime/inference/chains.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace latent {

// The kept draws of one chain, with Stan's columns (lp__, sampler columns
// ending in "__", then the model's outputs).
struct ChainTable {
  std::string source;  // a file name, or "chain 1"
  std::vector<std::string> columns;
  std::vector<double> values;  // rows x columns, row-major
  int64_t rows = 0;
  int max_depth = 0;   // of the sampler, 0 when unknown
  double warmup_seconds = std::numeric_limits<double>::quiet_NaN();
  double sampling_seconds = std::numeric_limits<double>::quiet_NaN();
};

// The chains of a run, as tables.
std::vector<ChainTable> chain_tables(const NutsRun& run, int max_depth);

struct SummaryRow {
  std::string name;
  double mean = 0, mcse_mean = 0, sd = 0, q5 = 0, q50 = 0, q95 = 0, rhat = 0, ess_bulk = 0, ess_tail = 0;
};

// Stan's thresholds.
constexpr double kRhatThreshold = 1.01;
constexpr double kEssPerChainThreshold = 100;
constexpr double kEbfmiThreshold = 0.3;

struct PosteriorSummary {
  std::vector<SummaryRow> columns;  // lp__, then the model's outputs
  int chains = 0;
  int64_t draws_per_chain = 0;
  int max_depth = 0;
  int64_t divergences = 0, max_depth_hits = 0;  // over all chains' kept draws
  std::vector<double> ebfmi;                    // per chain (NaN without energy__)
  double warmup_seconds = 0, sampling_seconds = 0;  // the slowest chain's (NaN when unknown)
  std::vector<std::string> warnings;
};

// Throws UserError when the chains have different columns, no draws, or (for
// the diagnostics that need it) different numbers of draws.
PosteriorSummary summarize(const std::vector<ChainTable>& chains);

// E-BFMI of one chain's energies: sum of squared successive differences over
// the sum of squared deviations from the mean.
double ebfmi(const std::vector<double>& energy);

}  // namespace latent
