// latent fit --method dadvi: deterministic ADVI (runtime/inference/dadvi.hpp),
// with draws of the fitted Gaussian as ADVI's CSV (the mean first, then draws
// with log_p__, log_g__ and Pareto-k̂) and the variational parameters (and the
// linear-response covariance) as JSON that `latent eval` reads.
#include "cli/approximate_draws.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/not_converged.hpp"
#include "runtime/inference/advi.hpp"
#include "runtime/inference/dadvi.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/csv.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

namespace latent::cli {

int dadvi_default_draws(bool full_rank, int64_t n) {
  if (!full_rank) return 30;
  int64_t twice = 2 * (n + n * (n + 1) / 2);
  return static_cast<int>(std::clamp<int64_t>(twice, 30, kMaxSamples));
}

int run_dadvi(const FitOptions& o, const DadviCliOptions& options_given) {
  DadviCliOptions d = options_given;
  LoadedModel lm = load_model(o.model, o.data, true, o.seed, /*with_constants=*/true);
  const BoundModel& m = *lm.model;
  if (m.num_unconstrained() == 0) throw UserError(o.model + ": the model has no parameters to fit");
  if (d.dadvi_draws == 0) d.dadvi_draws = dadvi_default_draws(d.family == "fullrank", m.num_unconstrained());
  DadviOptions options;
  options.family = d.family == "fullrank" ? Family::FullRank : Family::MeanField;
  options.draws = d.dadvi_draws;
  options.seed = o.seed;
  options.lbfgs.max_iterations = o.iterations;
  options.lbfgs.tol_rel_grad = o.tol_rel_grad;
  options.lbfgs.tol_rel_obj = o.tol_rel_obj;
  if (!o.quiet)
    options.lbfgs.progress = [](int it, double value, double grad_norm) {
      if (it % 100 == 0) std::cerr << "iteration " << it << "  objective " << value << "  |gradient| " << grad_norm << "\n";
    };
  options.init_radius = o.init_option.radius;
  if (o.init_option.values) {
    std::mt19937_64 rng(o.seed);
    options.initial_mean = m.unconstrain(*o.init_option.values, rng);
  }
  DadviResult r = fit_dadvi(m, options);
  if (!o.quiet || !r.converged)
    std::cerr << "latent: DADVI (" << family_name(r.family) << ", " << d.dadvi_draws << " fixed draws): " << r.message
              << " (" << r.iterations << " iterations, objective " << r.elbo << ")\n";
  if (!r.converged && r.status != LbfgsStatus::kMaxIterations)
    std::cerr << "latent: warning: L-BFGS stopped before converging on the DADVI objective (status "
              << to_string(r.status) << ")\n";
  if (!r.linear_response_problem.empty())
    std::cerr << "latent: warning: no linear-response covariance: " << r.linear_response_problem << "\n";

  const int64_t n = m.num_unconstrained();
  GaussianApproximation q(r.family, r.phi, n);
  std::mt19937_64 rng(o.seed + 2), resample_rng(o.seed + 4);
  ApproximateDraws draws = draw_approximation(
      *lm.with_constants, [&q](std::mt19937_64& g, double* log_g) { return q.draw(g, nullptr, log_g); }, d.draws, rng,
      d.psis_resample,
      resample_rng);
  report_pareto_k(draws, o.quiet);

  std::ostringstream csv;
  csv << "# latent variational (DADVI " << family_name(r.family) << ", " << d.dadvi_draws << " fixed draws)\n"
      << "# model = " << o.model << "\n# data = " << o.data << "\n# seed = " << o.seed << "\n"
      << "# objective = " << format_double(r.elbo) << ", L-BFGS " << to_string(r.status) << " after " << r.iterations
      << " iterations\n"
      << pareto_k_comment(draws) << "# the first row is the mean of the approximation\n";
  csv << "lp__,log_p__,log_g__";
  for (const std::string& name : m.output_names()) csv << "," << name;
  csv << "\n";
  RandomEngine generated_quantities_rng = random_engine(o.seed, 2);
  std::vector<double> mean = q.mean();
  ApproximateDraws mean_row;
  mean_row.z = {mean};
  mean_row.log_p = mean_row.log_g = {0.0};
  write_draw_rows(csv, m, mean_row, DrawColumns::kLpLogPLogG, generated_quantities_rng);
  write_draw_rows(csv, m, draws, DrawColumns::kLpLogPLogG, generated_quantities_rng);

  nlohmann::json j;
  j["method"] = "dadvi";
  j["family"] = family_name(r.family);
  j["dadvi_draws"] = d.dadvi_draws;
  j["elbo"] = r.elbo;  // the objective at the fixed draws
  j["iterations"] = r.iterations;
  j["converged"] = r.converged;
  j["status"] = to_string(r.status);
  add_pareto_k(j, draws);
  j["mu"] = mean;
  if (r.family == Family::MeanField)
    j["omega"] = std::vector<double>(r.phi.begin() + n, r.phi.end());
  else
    j["L"] = std::vector<double>(r.phi.begin() + n, r.phi.end());
  if (!r.linear_response_covariance.empty()) {
    const auto un = static_cast<size_t>(n);
    nlohmann::json cov = nlohmann::json::array();
    std::vector<double> sd;
    for (size_t i = 0; i < un; ++i) {
      cov.push_back(std::vector<double>(r.linear_response_covariance.begin() + static_cast<long>(i * un),
                                        r.linear_response_covariance.begin() + static_cast<long>((i + 1) * un)));
      sd.push_back(std::sqrt(r.linear_response_covariance[i * un + i]));
    }
    j["linear_response"] = {{"sd", sd}, {"covariance", cov}};  // of the unconstrained parameters
  }
  std::vector<double> at_mean = m.constrained_outputs(mean.data());
  j["parameters"] = parameters_by_name(m, at_mean);  // constrained values at the mean of the approximation
  std::string json = j.dump(2) + "\n";

  write_fit_outputs(o.outputs, csv.str(), json);
  if (r.status == LbfgsStatus::kMaxIterations)
    return report_not_converged("L-BFGS stopped at the iteration limit (--iter " + std::to_string(o.iterations) +
                                    ") before converging on the DADVI objective",
                                "the approximation may not be the optimum", o.outputs);
  return 0;
}

}  // namespace latent::cli
