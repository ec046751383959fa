// latent fit --method pathfinder: Pathfinder (runtime/inference/pathfinder.hpp),
// single- or multi-path, its draws pooled over the paths and (by default, as
// CmdStan) resampled by Pareto-smoothed importance weights, written as CmdStan's
// pathfinder CSV (lp_approx__, lp__, then the constrained values and generated
// quantities) with Pareto-k̂, and each path's facts as JSON.
#include "cli/approximate_draws.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "kernels/random.hpp"
#include "runtime/inference/pathfinder.hpp"
#include "runtime/output/csv.hpp"

#include <cmath>
#include <iostream>
#include <sstream>

namespace latent::cli {

namespace {

// Values held in memory for the draws (pooled draws x unconstrained parameters),
// bounded before anything runs (as NUTS's kept draws).
constexpr double kMaxHeldValues = static_cast<double>(int64_t{1} << 28);

}  // namespace

int run_pathfinder(const FitOptions& o, const PathfinderCliOptions& p) {
  const int64_t pooled = static_cast<int64_t>(p.paths) * p.draws;
  if (pooled > kMaxDraws)
    throw UserError("--draws " + std::to_string(p.draws) + " x --num-paths " + std::to_string(p.paths) + " is " +
                    std::to_string(pooled) + " pooled draws, more than " + std::to_string(kMaxDraws) +
                    "; lower --draws or --num-paths");
  if (p.psis_resample && pooled < kMinDrawsForParetoK)
    throw UserError("--psis-resample needs at least " + std::to_string(kMinDrawsForParetoK) +
                    " pooled draws (--draws x --num-paths, here " + std::to_string(pooled) +
                    "): Pareto smoothing fits the largest 5 or more of the importance ratios; raise --draws or give "
                    "--no-psis-resample");
  // lp__ as CmdStan's pathfinder writes it: the log density with every constant
  // and the Jacobian, so that lp__ - lp_approx__ is the normalised log ratio.
  LoadedModel lm = load_model(o.model, o.data, true, o.seed, /*with_constants=*/true);
  const BoundModel& m = *lm.with_constants;
  const int64_t n = m.num_unconstrained();
  if (n == 0) throw UserError(o.model + ": the model has no parameters to fit");
  if (static_cast<double>(pooled) * static_cast<double>(n) > kMaxHeldValues)
    throw UserError("--draws " + std::to_string(p.draws) + " x --num-paths " + std::to_string(p.paths) + " x " +
                    std::to_string(n) + " unconstrained parameters is more than 2^28 values to hold; lower --draws "
                    "or --num-paths");

  PathfinderOptions options;
  options.paths = p.paths;
  options.history = p.history;
  options.elbo_draws = p.elbo_draws;
  options.draws = p.draws;
  options.threads = p.threads;
  options.seed = o.seed;
  options.init = o.init_option.values.get();
  options.init_radius = o.init_option.radius;
  options.lbfgs.max_iterations = o.iterations;
  options.lbfgs.tol_rel_grad = o.tol_rel_grad;
  options.lbfgs.tol_rel_obj = o.tol_rel_obj;
  PathfinderRun run = latent::run_pathfinder(m, options);  // same output whatever the threads

  // Pool the paths' draws in path order (the same whatever the threads).
  ApproximateDraws pooled_draws;
  int failed = 0;
  const PathResult* best = nullptr;
  for (const PathResult& path : run.paths) {
    const std::string name = "latent: path " + std::to_string(path.path + 1) + ": ";
    if (path.failed) {
      ++failed;
      std::cerr << name << "failed: " << path.message << "\n";
      continue;
    }
    if (!o.quiet)
      std::cerr << name << "L-BFGS " << to_string(path.status) << " after " << path.iterations
                << " iterations; best ELBO " << format_double(path.elbo) << " at iteration " << path.best_iteration
                << " (" << path.evaluations << " log density evaluations)\n";
    if (best == nullptr || path.elbo > best->elbo) best = &path;
    for (size_t s = 0; s < path.z.size(); ++s) {
      pooled_draws.z.push_back(path.z[s]);
      pooled_draws.log_p.push_back(path.lp[s]);
      pooled_draws.log_g.push_back(path.lp_approx[s]);
    }
  }
  if (failed > 0)
    std::cerr << "latent: warning: " << failed << " of the " << run.paths.size()
              << " paths failed; the draws are the other paths'\n";
  if (p.psis_resample && pooled_draws.z.size() < static_cast<size_t>(kMinDrawsForParetoK))
    throw UserError("--psis-resample needs at least " + std::to_string(kMinDrawsForParetoK) +
                    " pooled draws; the paths that did not fail gave " + std::to_string(pooled_draws.z.size()));
  RandomEngine resample_rng = random_engine(o.seed, 3);
  ApproximateDraws draws =
      weigh_draws(std::move(pooled_draws), p.psis_resample, static_cast<size_t>(p.draws), resample_rng);
  report_pareto_k(draws, o.quiet);

  std::ostringstream csv;
  csv << "# latent pathfinder (" << p.paths << (p.paths == 1 ? " path" : " paths") << ", history size " << p.history
      << ", " << p.elbo_draws << " ELBO draws, " << p.draws << " draws per path, psis_resample = "
      << (p.psis_resample ? 1 : 0) << ")\n"
      << "# model = " << o.model << "\n# data = " << o.data << "\n# seed = " << o.seed << "\n";
  for (const PathResult& path : run.paths) {
    csv << "# path " << path.path + 1 << ": ";
    if (path.failed)
      csv << "failed: " << path.message << "\n";
    else
      csv << "L-BFGS " << to_string(path.status) << " after " << path.iterations << " iterations, ELBO "
          << format_double(path.elbo) << " at iteration " << path.best_iteration << "\n";
  }
  csv << pareto_k_comment(draws);
  csv << "lp_approx__,lp__";
  for (const std::string& name : m.output_names()) csv << "," << name;
  csv << "\n";
  RandomEngine generated_quantities_rng = random_engine(o.seed, 2);
  write_draw_rows(csv, m, draws, DrawColumns::kLpApproxLp, generated_quantities_rng);

  nlohmann::json j;
  j["method"] = "pathfinder";
  j["num_paths"] = p.paths;
  j["history_size"] = p.history;
  j["num_elbo_draws"] = p.elbo_draws;
  j["draws_per_path"] = p.draws;
  nlohmann::json paths = nlohmann::json::array();
  for (const PathResult& path : run.paths) {
    nlohmann::json e;
    e["path"] = path.path + 1;
    e["failed"] = path.failed;
    e["message"] = path.message;
    e["initial_point"] = path.initial_point;  // unconstrained
    if (!path.failed) {
      e["status"] = to_string(path.status);
      e["iterations"] = path.iterations;
      e["best_iteration"] = path.best_iteration;
      e["elbo"] = path.elbo;
      e["evaluations"] = path.evaluations;
      e["mean"] = path.approximation.mean();  // of the chosen normal, unconstrained
      if (n <= 100) {
        std::vector<double> cov = path.approximation.covariance();
        nlohmann::json rows = nlohmann::json::array();
        for (int64_t i = 0; i < n; ++i)
          rows.push_back(std::vector<double>(cov.begin() + i * n, cov.begin() + (i + 1) * n));
        e["covariance"] = rows;  // unconstrained; for at most 100 parameters
      }
    }
    paths.push_back(e);
  }
  j["paths"] = paths;
  add_pareto_k(j, draws);
  // Constrained values at the mean of the normal with the highest ELBO (readable with --init).
  std::vector<double> at_mean = m.constrained_outputs(best->approximation.mean().data());
  j["parameters"] = parameters_by_name(m, at_mean);
  std::string json = j.dump(2) + "\n";

  write_fit_outputs(o.outputs, csv.str(), json);
  return 0;
}

}  // namespace latent::cli
