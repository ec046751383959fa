// Draws of a posterior approximation with Pareto-k̂. See approximate_draws.hpp.
#include "cli/approximate_draws.hpp"

#include "runtime/inference/psis.hpp"
#include "runtime/output/csv.hpp"

#include <cmath>
#include <iostream>
#include <sstream>

namespace latent::cli {

ApproximateDraws draw_approximation(const BoundModel& model, const DrawFunction& draw, int count,
                                    std::mt19937_64& rng, bool psis_resample, std::mt19937_64& resample_rng) {
  if (psis_resample && count < kMinDrawsForParetoK)
    throw UserError("--psis-resample needs --draws of at least " + std::to_string(kMinDrawsForParetoK) +
                    " (Pareto smoothing fits the largest 5 or more of the draws' importance ratios)");
  ApproximateDraws d;
  d.z.reserve(static_cast<size_t>(count));
  for (int s = 0; s < count; ++s) {
    double log_g = 0;
    d.z.push_back(draw(rng, &log_g));
    d.log_g.push_back(log_g);
    d.log_p.push_back(model.log_density(d.z.back().data(), nullptr, true));
  }
  return weigh_draws(std::move(d), psis_resample, static_cast<size_t>(count), resample_rng);
}

ApproximateDraws weigh_draws(ApproximateDraws d, bool psis_resample, size_t resample_count,
                             std::mt19937_64& resample_rng) {
  const size_t count = d.z.size();
  if (psis_resample && count < static_cast<size_t>(kMinDrawsForParetoK))
    throw UserError("--psis-resample needs at least " + std::to_string(kMinDrawsForParetoK) +
                    " draws (Pareto smoothing fits the largest 5 or more of the draws' importance ratios)");
  d.pareto_k = std::nan("");
  d.resampled = false;
  if (count < static_cast<size_t>(kMinDrawsForParetoK)) return d;
  std::vector<double> log_ratios(d.log_p.size());
  for (size_t s = 0; s < log_ratios.size(); ++s) {
    // A draw where the density is not defined (a failed check: NaN) or is +inf
    // (a singularity) carries no usable weight; +inf would swamp every other draw.
    double r = d.log_p[s] - d.log_g[s];
    log_ratios[s] = std::isfinite(r) ? r : -INFINITY;
  }
  bool any_finite = false;
  for (double r : log_ratios) any_finite = any_finite || std::isfinite(r);
  if (!any_finite)
    throw UserError("the log density is not finite at any of the " + std::to_string(count) +
                    " draws of the approximation: it cannot be checked by Pareto smoothing");
  PsisResult p = psis(log_ratios);
  d.pareto_k = p.pareto_k;
  d.ess = p.ess;
  d.weighed = count;
  if (!psis_resample) return d;
  ApproximateDraws r;
  r.pareto_k = d.pareto_k;
  r.ess = d.ess;
  r.weighed = count;
  r.resampled = true;
  for (size_t i : resample_indices(p.weights, resample_count, resample_rng)) {
    r.z.push_back(d.z[i]);
    r.log_p.push_back(d.log_p[i]);
    r.log_g.push_back(d.log_g[i]);
  }
  return r;
}

std::string pareto_k_comment(const ApproximateDraws& d) {
  std::ostringstream s;
  if (std::isnan(d.pareto_k))
    s << "# pareto_k = NaN (not computed: fewer than " << kMinDrawsForParetoK << " draws)\n";
  else
    s << "# pareto_k = " << format_double(d.pareto_k) << " (" << pareto_k_verdict(d.pareto_k) << ", from "
      << d.weighed << " draws; effective draws of the importance weights " << format_double(std::round(d.ess))
      << ")\n";
  if (d.resampled)
    s << "# the draws are resampled with replacement by their Pareto-smoothed importance weights"
      << (d.z.size() == d.weighed ? std::string() : " (" + std::to_string(d.z.size()) + " of " + std::to_string(d.weighed) + ")")
      << "\n";
  return s.str();
}

void add_pareto_k(nlohmann::json& j, const ApproximateDraws& d) {
  j["pareto_k"] = std::isfinite(d.pareto_k) ? nlohmann::json(d.pareto_k) : nlohmann::json(nullptr);
  j["pareto_k_verdict"] = std::isnan(d.pareto_k) ? "not computed" : pareto_k_verdict(d.pareto_k);
  j["psis_ess"] = std::isnan(d.pareto_k) ? nlohmann::json(nullptr) : nlohmann::json(d.ess);
  j["psis_resampled"] = d.resampled;
}

void report_pareto_k(const ApproximateDraws& d, bool quiet) {
  if (std::isnan(d.pareto_k)) {
    if (!quiet && !d.z.empty())
      std::cerr << "latent: Pareto k-hat not computed (fewer than " << kMinDrawsForParetoK << " draws)\n";
    return;
  }
  bool unreliable = std::string(pareto_k_verdict(d.pareto_k)) == "unreliable";
  if (!quiet || unreliable) std::cerr << "latent: " << pareto_k_message(d.pareto_k) << "\n";
  if (!unreliable && d.ess < 0.1 * static_cast<double>(d.weighed))
    std::cerr << "latent: warning: only " << std::lround(d.ess) << " of the " << d.weighed
              << " draws carry the importance weight: the approximation is much wider than the posterior in some "
                 "direction\n";
}

void write_draw_rows(std::ostream& csv, const BoundModel& model, const ApproximateDraws& d, DrawColumns layout,
                     RandomEngine& gq_rng) {
  for (size_t s = 0; s < d.z.size(); ++s) {
    if (layout == DrawColumns::kLpLogPLogG) csv << "0,";
    if (layout == DrawColumns::kLpApproxLp)
      csv << format_double(d.log_g[s]) << "," << format_double(d.log_p[s]);
    else
      csv << format_double(d.log_p[s]) << "," << format_double(d.log_g[s]);
    EvalContext ctx;
    ctx.rng = &gq_rng;
    for (double v : model.constrained_outputs(d.z[s].data(), &ctx)) csv << "," << format_double(v);
    if (ctx.failed) throw UserError("generated quantities failed for a draw: " + ctx.failure_text());
    csv << "\n";
  }
}

}  // namespace latent::cli
