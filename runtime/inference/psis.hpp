// Pareto-smoothed importance sampling (PSIS) and its diagnostic k̂ (Vehtari,
// Simpson, Gelman, Yao & Gabry, "Pareto smoothed importance sampling", JMLR
// 2024), computed as R's loo::psis does with r_eff = 1:
//  - the M = ceil(min(S / 5, 3 sqrt(S))) largest importance ratios are the tail
//    (no smoothing, k̂ = inf, when M < 5);
//  - a generalized Pareto distribution is fitted to the tail's excesses over the
//    largest ratio below it, by Zhang & Stephens (2009)'s empirical Bayes
//    estimate (min_grid_pts = 30), with the weakly informative prior of loo
//    (k̂ shrunk towards 0.5 as if 10 more observations: (k N + 5) / (N + 10));
//  - the tail's ratios are replaced by that distribution's quantiles at
//    (i - 1/2) / M, in the order of the raw ratios, and every ratio is
//    truncated at the largest raw ratio.
// One addition: log ratios equal to within 1e-9 (relative to the largest) are
// those of an approximation equal to the posterior up to a constant; their
// spread is rounding noise, and k̂ is -inf (bounded weights) rather than a fit.
// k̂ < 0.5: the importance weights have finite variance (the approximation is
// good); 0.5 to 0.7: usable; above 0.7: the estimates are unreliable.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace latent {

struct GeneralizedPareto {
  double k = 0, sigma = 0;  // shape (k > 0: heavy tail) and scale; k = inf when the fit fails
};

// Zhang & Stephens' estimate from excesses sorted ascending (all >= 0), with loo's
// prior when `weakly_informative_prior`. k = inf when the first quartile is not
// above the minimum (far from a generalized Pareto) or the estimate is not a number.
GeneralizedPareto fit_generalized_pareto(const std::vector<double>& sorted_excesses,
                                         bool weakly_informative_prior = true);

// Quantile of the generalized Pareto distribution with location 0.
double generalized_pareto_quantile(double p, double k, double sigma);

// ceil(min(S / 5, 3 sqrt(S))): the tail length for S draws.
size_t psis_tail_length(size_t draws);

struct PsisResult {
  double pareto_k = 0;              // k̂ (inf when the tail cannot be fitted; -inf for constant ratios)
  size_t tail_length = 0;
  std::vector<double> log_weights;  // smoothed and truncated, on the scale of the input (as loo)
  std::vector<double> weights;      // the same, normalised to sum to 1
  double ess = 0;                   // 1 / sum(weights^2): the effective number of draws (loo's n_eff, r_eff = 1)
};

// PSIS of log importance ratios log p(θ_s) - log q(θ_s) (any additive constant).
// Ratios that are -inf or NaN (a draw where the density is not defined) get weight
// 0. Throws std::invalid_argument when no ratio is finite or one is +inf.
PsisResult psis(const std::vector<double>& log_ratios);

// "good" (k̂ < 0.5), "acceptable" (0.5 <= k̂ <= 0.7) or "unreliable" (k̂ > 0.7 or not a number).
const char* pareto_k_verdict(double k);
// One line for the user: "Pareto k-hat = 0.31: good (...)".
std::string pareto_k_message(double k);

// `count` indices drawn with replacement with probabilities `weights`.
std::vector<size_t> resample_indices(const std::vector<double>& weights, size_t count, std::mt19937_64& rng);

}  // namespace latent
