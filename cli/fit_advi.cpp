// latent fit --method advi | fullrank: ADVI, with approximate posterior draws as
// CmdStan-style CSV and the variational parameters as JSON.
#include "cli/approximate_draws.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/not_converged.hpp"
#include "runtime/distributed/job.hpp"
#include "runtime/inference/advi.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/cmdstan_config.hpp"
#include "runtime/output/csv.hpp"

#include <unistd.h>

#include <cmath>
#include <iostream>
#include <sstream>

namespace latent::cli {

int run_advi(const FitOptions& o, const AdviCliOptions& a) {
  LoadedModel lm = load_model(o.model, o.data, true, o.seed, /*with_constants=*/true);
  const BoundModel& m = *lm.model;
  if (m.num_unconstrained() == 0) throw UserError(o.model + ": the model has no parameters to fit");
  AdviOptions options;
  options.family = o.method == "fullrank" ? Family::FullRank : Family::MeanField;
  options.grad_samples = a.grad_samples;
  if (a.objective == "iwae") {
    options.iwae_objective = true;
    options.grad_samples = a.k > 0 ? a.k : 10;
  }
  options.elbo_samples = a.elbo_samples;
  options.eval_elbo = a.eval_elbo;
  options.max_iterations = a.iterations;
  options.tol_rel_obj = a.tol_rel_obj;
  options.optimizer = a.optimizer == "adam" ? StochasticOptimizer::Adam
                      : a.optimizer == "sgd" ? StochasticOptimizer::SgdMomentum
                                              : StochasticOptimizer::StanAdaptive;
  options.eta = a.eta;
  options.adapt = a.adapt;
  options.seed = o.seed;
  options.init_radius = o.init_option.radius;
  if (o.init_option.values) {
    std::mt19937_64 rng(o.seed);
    options.initial_mean = m.unconstrain(*o.init_option.values, rng);
  }
  // In a job of several processes every rank fits (each evaluates its share of
  // the draws) and only the root reports and writes.
  distributed::Job& job = distributed::job();
  const bool quiet = o.quiet || !job.root();
  bool terminal = isatty(STDERR_FILENO);
  if (!quiet)
    options.progress = [terminal](int it, double elbo, double change) {
      std::ostringstream line;
      line << "iteration " << it << "  ELBO " << elbo;
      if (!std::isnan(change)) line << "  relative change " << change;
      std::cerr << (terminal ? "\r\033[K" : "") << line.str() << (terminal ? "" : "\n") << std::flush;
    };
  AdviResult r = fit_advi(m, options);
  const bool not_converged = !r.converged && a.tol_rel_obj > 0;  // --tol-rel-obj 0 asks for exactly --iter iterations
  if (!job.root()) return not_converged ? kExitNotConverged : 0;  // the root's status: mpirun reports the job's
  if (!quiet)
    for (const std::string& restart : r.restarts) std::cerr << (terminal ? "\n" : "") << "latent: " << restart << "\n";
  if (!quiet) std::cerr << (terminal ? "\n" : "") << "latent: ADVI " << r.message << " after " << r.iterations
                          << " iterations (eta " << r.eta << ", ELBO " << r.elbo << ")\n";

  // Draws: CmdStan's layout (lp__ = 0, log_p__, log_g__), the mean first.
  int64_t n = m.num_unconstrained();
  GaussianApproximation q(r.family, r.phi, n);
  std::mt19937_64 rng(o.seed + 1), resample_rng(o.seed + 4);
  ApproximateDraws draws = draw_approximation(
      *lm.with_constants, [&q](std::mt19937_64& g, double* log_g) { return q.draw(g, nullptr, log_g); }, a.draws, rng,
      a.psis_resample,
      resample_rng);
  report_pareto_k(draws, o.quiet);
  std::vector<std::string> names = m.output_names();
  // CmdStan's variational CSV (rstan::read_stan_csv reads it: output_samples
  // tells it to drop the first row, the mean), then latent's own lines.
  VariationalConfig config;
  config.files = {o.model, o.data, o.init_option.text, first_csv_output(o.outputs), o.seed};
  config.full_rank = r.family == Family::FullRank;
  config.iterations = a.iterations;
  config.grad_samples = options.grad_samples;
  config.elbo_samples = a.elbo_samples;
  config.eval_elbo = a.eval_elbo;
  config.eta = a.eta;
  config.adapt = options.adapt && options.optimizer == StochasticOptimizer::StanAdaptive;
  config.tol_rel_obj = a.tol_rel_obj;
  config.output_samples = a.draws;
  std::ostringstream csv;
  csv << variational_config_comment(config);
  if (a.optimizer != "stan" || options.iwae_objective)
    csv << "# latent: optimizer = " << a.optimizer << ", objective = " << (options.iwae_objective ? "iwae" : "elbo")
        << (options.iwae_objective ? ", k = " + std::to_string(options.grad_samples) : "") << "\n";
  csv << "# ELBO = " << format_double(r.elbo) << ", iterations = " << r.iterations
      << (r.converged ? "" : " (not converged)") << "\n";
  for (const std::string& restart : r.restarts) csv << "# latent: " << restart << "\n";
  csv << pareto_k_comment(draws) << "# the first row is the mean of the approximation\n";
  csv << "lp__,log_p__,log_g__";
  for (auto& name : names) csv << "," << name;
  csv << "\n";
  if (config.adapt) csv << variational_adaptation_comment(r.eta);
  // Generated quantities of each draw: their `_rng` calls draw from a stream of their own.
  RandomEngine generated_quantities_rng = random_engine(o.seed, 2);
  std::vector<double> mean = q.mean();
  ApproximateDraws mean_row;
  mean_row.z = {mean};
  mean_row.log_p = mean_row.log_g = {0.0};
  write_draw_rows(csv, m, mean_row, DrawColumns::kLpLogPLogG, generated_quantities_rng);
  write_draw_rows(csv, m, draws, DrawColumns::kLpLogPLogG, generated_quantities_rng);

  nlohmann::json j;
  j["method"] = "advi";
  j["family"] = family_name(r.family);
  j["elbo"] = r.elbo;
  j["iterations"] = r.iterations;
  j["converged"] = r.converged;
  j["eta"] = r.eta;
  j["restarts"] = r.restarts;
  j["objective"] = options.iwae_objective ? "iwae" : "elbo";
  add_pareto_k(j, draws);
  j["mu"] = mean;
  if (r.family == Family::MeanField) {
    j["omega"] = std::vector<double>(r.phi.begin() + n, r.phi.end());
  } else {
    j["L"] = std::vector<double>(r.phi.begin() + n, r.phi.end());
  }
  std::vector<double> at_mean = m.constrained_outputs(mean.data());
  j["parameters"] = parameters_by_name(m, at_mean);  // constrained values at the mean of the approximation
  std::string json = j.dump(2) + "\n";

  write_fit_outputs(o.outputs, csv.str(), json);
  // --tol-rel-obj 0 asks for exactly --iter iterations: reaching them is the plan.
  if (not_converged) {
    std::ostringstream tolerance;
    tolerance << a.tol_rel_obj;
    return report_not_converged("ADVI stopped at the iteration limit (--iter " + std::to_string(a.iterations) +
                                    ") before the relative ELBO change fell below --tol-rel-obj " + tolerance.str(),
                                "the approximation may not be the optimum of the ELBO", o.outputs);
  }
  return 0;
}

}  // namespace latent::cli
