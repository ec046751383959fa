// Convergence diagnostics of Markov chains, as Vehtari, Gelman, Simpson,
// Carpenter & Bürkner (2021, "Rank-normalization, folding, and localization: an
// improved R-hat") define them and rstan 2.21 (Rhat, ess_bulk, ess_tail) and R's
// posterior package compute them:
//  - chains are split in halves (an odd middle draw is dropped);
//  - bulk: the draws replaced by the normal quantiles of their pooled ranks
//    (average ranks for ties, z = Phi^-1((r - 1/2) / S));
//  - tail R-hat: the same on |x - median|; R-hat is the larger of the two;
//  - ESS from the autocorrelations combined over chains, truncated by Geyer's
//    initial positive sequence and made monotone (initial monotone sequence);
//  - tail ESS: the smaller ESS of the indicators x <= q5 and x <= q95.
// Every function takes chains of equal length, draws in order. A quantity that
// is not defined (fewer than 3 draws per chain, a constant or non-finite
// column) is NaN.
#pragma once

#include <vector>

namespace latent {

using Chains = std::vector<std::vector<double>>;

// Chains cut in halves: 2 * chains of floor(n / 2) draws.
Chains split_chains(const Chains& chains);
// Normal scores of the pooled ranks, same layout.
Chains rank_normalize(const Chains& chains);

// Classic potential scale reduction of the given chains (no splitting).
double basic_rhat(const Chains& chains);
// ESS of the given chains (no splitting, no normalisation).
double basic_ess(const Chains& chains);

double rhat(const Chains& chains);      // rank-normalised split R-hat, max of bulk and folded
double ess_bulk(const Chains& chains);  // rank-normalised split ESS
double ess_tail(const Chains& chains);
double ess_mean(const Chains& chains);  // split ESS of the raw draws (for the MCSE of the mean)
double mcse_mean(const Chains& chains); // sd / sqrt(ess_mean)

// Everything a summary row needs, sorting and rank-normalising once.
struct ColumnDiagnostics {
  double mean, sd, q5, q50, q95, rhat, ess_bulk, ess_tail, ess_mean, mcse_mean;
};
ColumnDiagnostics column_diagnostics(const Chains& chains);

// R's quantile(type = 7) of all draws; quantile_of_sorted for values sorted ascending.
double quantile(std::vector<double> values, double p);
double quantile_of_sorted(const std::vector<double>& sorted, double p);
// Quantile of the standard normal distribution.
double normal_quantile(double p);

}  // namespace latent
