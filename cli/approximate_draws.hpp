// Draws of an approximation to the posterior on the unconstrained scale (ADVI,
// DADVI, Laplace, Pathfinder), shared by those methods: log_p__ (the log density with the
// Jacobian) and log_g__ (the approximation's log density, up to a constant) for
// each draw, Pareto-k̂ of log_p__ - log_g__ (runtime/inference/psis.hpp), draws
// resampled by PSIS on request, and the CSV rows with constrained values and
// generated quantities.
#pragma once

#include "runtime/model/bound_model.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

namespace latent::cli {

// One draw z from the approximation; writes log g(z) (any additive constant).
using DrawFunction = std::function<std::vector<double>(std::mt19937_64& rng, double* log_g)>;

struct ApproximateDraws {
  std::vector<std::vector<double>> z;  // unconstrained
  std::vector<double> log_p, log_g;
  double pareto_k = 0;                 // NaN when there are too few draws (kMinDrawsForParetoK)
  double ess = 0;                      // effective number of draws of the smoothed importance weights
  size_t weighed = 0;                  // draws k̂ and ess come from (before any resampling)
  bool resampled = false;
};

// Fewer draws give a tail of fewer than 5: no k̂ (as loo).
constexpr int kMinDrawsForParetoK = 21;

// `count` draws, their log densities and k̂; log_p__ is `model`'s log density with
// the Jacobian (ADVI and DADVI pass the model keeping every constant, as CmdStan's
// log_p__; Laplace the usual one, as CmdStan's laplace). With `psis_resample`, `count` draws
// taken with replacement with the smoothed importance weights (resample_rng).
// Throws UserError when resampling is asked with fewer than kMinDrawsForParetoK
// draws or when no draw has a finite log density.
ApproximateDraws draw_approximation(const BoundModel& model, const DrawFunction& draw, int count,
                                    std::mt19937_64& rng, bool psis_resample, std::mt19937_64& resample_rng);

// k̂ of given draws (their log_p and log_g filled in) and, with `psis_resample`,
// `resample_count` of them taken with replacement with the smoothed importance
// weights (resample_rng). Pathfinder, whose draws come from several normals,
// each draw's log_g its own normal's. Throws UserError when resampling is asked
// with fewer than kMinDrawsForParetoK draws or when no draw has a finite log density.
ApproximateDraws weigh_draws(ApproximateDraws draws, bool psis_resample, size_t resample_count,
                             std::mt19937_64& resample_rng);

// CSV comment lines about k̂ and resampling (each starting with "# ").
std::string pareto_k_comment(const ApproximateDraws& d);
// Adds pareto_k (null when not computed), pareto_k_verdict, psis_ess and psis_resampled.
void add_pareto_k(nlohmann::json& j, const ApproximateDraws& d);
// "latent: Pareto k-hat = ...: verdict (...)" on standard error; with `quiet`
// only when the verdict is "unreliable". A warning too when fewer than a tenth
// of the draws carry the weight (k̂ can be small when the approximation is much
// wider than the posterior: the ratios are bounded, but most draws are wasted).
void report_pareto_k(const ApproximateDraws& d, bool quiet);

// The columns before the model's in each method's CmdStan layout.
enum class DrawColumns {
  kLogPLogG,    // log_p__, log_g__ (laplace)
  kLpLogPLogG,  // lp__ (0), log_p__, log_g__ (advi, dadvi)
  kLpApproxLp,  // lp_approx__ (log_g), lp__ (log_p) (pathfinder)
};

// One CSV row per draw: the columns of `layout`, then the constrained parameters,
// transformed parameters and generated quantities (their `_rng` calls draw from
// gq_rng). Throws UserError when generated quantities fail for a draw.
void write_draw_rows(std::ostream& csv, const BoundModel& model, const ApproximateDraws& d, DrawColumns layout,
                     RandomEngine& gq_rng);

}  // namespace latent::cli
