// latent fit --method laplace: the normal approximation at the mode on the
// unconstrained scale (CmdStan's `laplace`), its draws as CmdStan's laplace CSV
// (log_p__, log_g__, then the constrained values and generated quantities) and
// the mode and Hessian as JSON.
#include "cli/approximate_draws.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/not_converged.hpp"
#include "runtime/inference/laplace.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/csv.hpp"

#include <iostream>
#include <optional>
#include <sstream>

namespace latent::cli {

int run_laplace(const FitOptions& o, int draw_count, bool psis_resample) {
  // The mode with the Jacobian: the maximum of the density on the unconstrained
  // scale, which is the density the normal approximates (as CmdStan's laplace).
  LoadedModel lm = load_model(o.model, o.data, true, o.seed);
  const BoundModel& m = *lm.model;
  if (m.num_unconstrained() == 0) throw UserError(o.model + ": the model has no parameters to fit");
  LbfgsResult r = find_mode(m, o, true);
  if (!o.quiet || !r.converged) std::cerr << "latent: " << r.message << " (" << r.iterations << " iterations)\n";
  if (!r.converged && r.status != LbfgsStatus::kMaxIterations)
    std::cerr << "latent: warning: L-BFGS stopped before converging: the normal approximation is not centred at "
                 "the mode\n";
  std::optional<LaplaceApproximation> built;
  try {
    built.emplace(m, r.x);
  } catch (const UserError& e) {
    if (r.status != LbfgsStatus::kMaxIterations) throw;
    // The point is not the mode: say so first, the Hessian's problem follows from it.
    throw UserError("L-BFGS stopped at the iteration limit (--iter " + std::to_string(o.iterations) +
                    ") before reaching the mode; raise --iter. At the point where it stopped: " + e.what());
  }
  const LaplaceApproximation& laplace = *built;

  std::mt19937_64 rng(o.seed + 1), resample_rng(o.seed + 4);
  ApproximateDraws draws = draw_approximation(
      m, [&laplace](std::mt19937_64& g, double* log_g) { return laplace.draw(g, log_g); }, draw_count, rng,
      psis_resample, resample_rng);
  report_pareto_k(draws, o.quiet);

  std::ostringstream csv;
  csv << "# latent laplace (normal approximation at the mode on the unconstrained scale, jacobian=1)\n"
      << "# model = " << o.model << "\n# data = " << o.data << "\n# seed = " << o.seed << "\n"
      << "# mode: log density " << format_double(laplace.log_density_at_mode()) << ", L-BFGS "
      << to_string(r.status) << " after " << r.iterations << " iterations\n"
      << pareto_k_comment(draws);
  csv << "log_p__,log_g__";
  for (const std::string& name : m.output_names()) csv << "," << name;
  csv << "\n";
  RandomEngine generated_quantities_rng = random_engine(o.seed, 2);
  write_draw_rows(csv, m, draws, DrawColumns::kLogPLogG, generated_quantities_rng);

  const size_t n = static_cast<size_t>(m.num_unconstrained());
  nlohmann::json j;
  j["method"] = "laplace";
  j["lp_mode"] = laplace.log_density_at_mode();  // with the Jacobian
  j["converged"] = r.converged;
  j["status"] = to_string(r.status);
  j["iterations"] = r.iterations;
  j["mode"] = laplace.mode();  // unconstrained
  nlohmann::json hessian = nlohmann::json::array();
  for (size_t i = 0; i < n; ++i)
    hessian.push_back(std::vector<double>(laplace.hessian().begin() + static_cast<long>(i * n),
                                          laplace.hessian().begin() + static_cast<long>((i + 1) * n)));
  j["hessian"] = hessian;
  add_pareto_k(j, draws);
  std::vector<double> at_mode = m.constrained_outputs(laplace.mode().data());
  j["parameters"] = parameters_by_name(m, at_mode);  // constrained values at the mode (readable with --init)
  std::string json = j.dump(2) + "\n";

  write_fit_outputs(o.outputs, csv.str(), json);
  if (r.status == LbfgsStatus::kMaxIterations)
    return report_not_converged("L-BFGS stopped at the iteration limit (--iter " + std::to_string(o.iterations) +
                                    ") before meeting its convergence tolerances",
                                "the normal approximation may not be centred at the mode", o.outputs);
  return 0;
}

}  // namespace latent::cli
