// latent fit MODEL --data D --method map: the posterior mode (or MLE) by
// L-BFGS, written as CmdStan-style CSV or as JSON.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/not_converged.hpp"
#include "cli/options.hpp"
#include "runtime/distributed/job.hpp"
#include "runtime/inference/initial_point.hpp"
#include "runtime/optim/lbfgs.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/cmdstan_config.hpp"
#include "runtime/output/csv.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <iostream>
#include <memory>
#include <random>
#include <sstream>

namespace latent::cli {

// A variable's values in CmdStan's column order (first index fastest) to nested
// JSON arrays (the CmdStan JSON layout), so that a fit reads back as an init file.
nlohmann::json nested(const std::vector<double>& v, size_t at, const std::vector<int64_t>& dims) {
  std::function<nlohmann::json(size_t, size_t, size_t)> build = [&](size_t level, size_t offset,
                                                                     size_t stride) -> nlohmann::json {
    if (level == dims.size()) return v.at(at + offset);
    nlohmann::json arr = nlohmann::json::array();
    for (int64_t i = 0; i < dims[level]; ++i)
      arr.push_back(build(level + 1, offset + static_cast<size_t>(i) * stride, stride * static_cast<size_t>(dims[level])));
    return arr;
  };
  return build(0, 0, 1);
}

nlohmann::json parameters_by_name(const BoundModel& model, const std::vector<double>& constrained) {
  size_t at = 0;
  nlohmann::json vars = nlohmann::json::object();
  for (const ParameterInfo& p : model.parameters()) {
    vars[p.name] = nested(constrained, at, p.stan_dims);
    at += static_cast<size_t>(p.size());
  }
  return vars;
}

void write_fit_outputs(const std::vector<std::string>& outputs, const std::string& csv, const std::string& json) {
  if (outputs.empty()) std::cout << csv;
  for (const std::string& path : outputs) write_file_atomically(path, ends_with(path, ".json") ? json : csv);
}

std::string first_csv_output(const std::vector<std::string>& outputs) {
  for (const std::string& path : outputs)
    if (!ends_with(path, ".json")) return path;
  return "";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

namespace {

// The options that apply to some methods only, with those methods. Any other
// method rejects them (an option that silently does nothing is a mistake unseen).
struct MethodOption {
  const char* name;
  std::vector<std::string> methods;
};
const std::vector<MethodOption>& method_options() {
  static const std::vector<MethodOption> options = {
      {"--init", {"map", "laplace", "advi", "fullrank", "dadvi", "pathfinder", "nuts"}},  // svi: its guide starts from --seed (no init format for networks)
      {"--iter", {"map", "laplace", "advi", "fullrank", "dadvi", "pathfinder"}},
      {"--tol-rel-grad", {"map", "laplace", "dadvi", "pathfinder"}},
      {"--tol-rel-obj", {"map", "laplace", "advi", "fullrank", "dadvi", "pathfinder"}},
      {"--jacobian", {"map"}},
      {"--draws", {"laplace", "advi", "fullrank", "dadvi", "pathfinder"}},
      {"--psis-resample", {"laplace", "advi", "fullrank", "dadvi", "pathfinder"}},
      {"--num-paths", {"pathfinder"}},
      {"--history-size", {"pathfinder"}},
      {"--num-elbo-draws", {"pathfinder"}},
      {"--dadvi-draws", {"dadvi"}},
      {"--family", {"dadvi"}},
      {"--grad-samples", {"advi", "fullrank"}},
      {"--elbo-samples", {"advi", "fullrank"}},
      {"--eval-elbo", {"advi", "fullrank"}},
      {"--objective", {"advi", "fullrank"}},
      {"--k", {"advi", "fullrank"}},
      {"--optimizer", {"advi", "fullrank", "svi"}},
      {"--lr", {"advi", "fullrank", "svi"}},
      {"--batch", {"svi"}},
      {"--epochs", {"svi"}},
      {"--kl", {"svi"}},
      {"--threads", {"svi", "nuts", "pathfinder"}},
      {"--chains", {"nuts"}},
      {"--warmup", {"nuts"}},
      {"--samples", {"nuts"}},
      {"--thin", {"nuts"}},
      {"--max-depth", {"nuts"}},
      {"--adapt-delta", {"nuts"}},
      {"--metric", {"nuts"}},
      {"--stepsize", {"nuts"}},
      {"--batch-parts", {"svi"}},
      {"--precision", {"svi"}},
      {"--max-rows", {"svi"}},
      {"--checkpoint-every", {"svi"}},
      {"--resume", {"svi"}},
  };
  return options;
}

void reject_options_of_other_methods(const CLI::App& sub, const std::string& method) {
  for (const MethodOption& m : method_options()) {
    if (sub.count(m.name) == 0 || std::find(m.methods.begin(), m.methods.end(), method) != m.methods.end()) continue;
    std::string list;
    for (size_t i = 0; i < m.methods.size(); ++i)
      list += (i ? (i + 1 == m.methods.size() ? " and " : ", ") : "") + m.methods[i];
    throw UserError(std::string(m.name) + " is an option of --method " + list + ", not of --method " + method);
  }
}

}  // namespace

LbfgsResult find_mode(const BoundModel& m, const FitOptions& o, bool jacobian) {
  std::mt19937_64 rng(o.seed);
  std::vector<double> theta = find_initial_point(m, o.init_option.values.get(), jacobian, rng, o.init_option.radius);
  LbfgsOptions options;
  options.max_iterations = o.iterations;
  options.tol_rel_grad = o.tol_rel_grad;
  options.tol_rel_obj = o.tol_rel_obj;
  if (!o.quiet)
    options.progress = [](int it, double value, double grad_norm) {
      if (it % 100 == 0) std::cerr << "iteration " << it << "  log density " << value << "  |gradient| " << grad_norm << "\n";
    };
  auto f = [&](const double* x, double* g) { return m.log_density(x, g, jacobian); };
  LbfgsResult r = maximize_lbfgs(f, theta, options);
  if (r.status == LbfgsStatus::kDiverged || r.status == LbfgsStatus::kBadInitialPoint)
    throw UserError("the fit diverged: " + r.message);
  return r;
}

Command add_fit_command(CLI::App& app) {
  auto o = std::make_shared<FitOptions>();
  auto a = std::make_shared<AdviCliOptions>();
  auto s = std::make_shared<SviCliOptions>();
  auto nuts = std::make_shared<NutsCliOptions>();
  auto dadvi = std::make_shared<DadviCliOptions>();
  auto pathfinder = std::make_shared<PathfinderCliOptions>();
  auto* sub = app.add_subcommand("fit", "Fit a model: MAP by L-BFGS, Laplace (the normal approximation at the mode), ADVI (mean-field or full-rank), "
                                        "DADVI (deterministic ADVI), Pathfinder, NUTS (Stan's "
                                        "sampler, parallel chains) or SVI (networks, guides, minibatches)");
  sub->add_option("model", o->model, "Model file")->required();
  sub->add_option("--data", o->data,
                  "Data: a CmdStan JSON or R dump (.data.R) file; with --method svi also an IDX image file or fashion-mnist[:train|:test]");
  sub->add_option("--method", o->method,
                  "map | laplace (normal approximation at the mode, as CmdStan's laplace) | advi (mean-field ADVI) | fullrank (full-rank ADVI) | "
                  "dadvi (deterministic ADVI: fixed draws, L-BFGS) | pathfinder (normal approximations along L-BFGS "
                  "paths, as CmdStan's pathfinder) | nuts (Stan's NUTS with its adaptation) | "
                  "svi (stochastic VI: networks, guide, minibatches)")
      ->check(one_of({"map", "laplace", "advi", "fullrank", "dadvi", "pathfinder", "nuts", "svi"}))
      ->capture_default_str();
  sub->add_option("--init", o->init,
                  "map, laplace, advi, fullrank, dadvi, pathfinder, nuts: initial values, constrained parameters by name (a JSON or R dump "
                  "file), or a number R: initial points uniform(-R, R) on the unconstrained scale (default 2; 0: all zero), as CmdStan's init");
  sub->add_option("--output,-o", o->outputs,
                  "Output file(s): .csv (CmdStan style: the estimate, or laplace/ADVI draws) and/or .json "
                  "(the estimate, laplace's mode and Hessian, or the variational parameters); default: CSV on stdout. nuts: one CSV per "
                  "chain, draws.csv -> draws_1.csv ... draws_N.csv (default output.csv)");
  sub->add_option("--seed", o->seed, "Random seed (initial point, laplace and ADVI draws, NUTS chains)")->check(integer_in(0));
  sub->add_option("--chains", nuts->chains, "nuts: number of chains, run in parallel (1 to 1024)")
      ->check(integer_in(1, 1024))
      ->capture_default_str();
  sub->add_option("--warmup", nuts->warmup, "nuts: warm-up iterations per chain (adaptation)")->capture_default_str();
  sub->add_option("--samples", nuts->samples, "nuts: iterations per chain after warm-up")->capture_default_str();
  sub->add_option("--thin", nuts->thin, "nuts: keep every thin-th draw")->capture_default_str();
  sub->add_option("--max-depth", nuts->max_depth, "nuts: maximum tree depth")->capture_default_str();
  sub->add_option("--adapt-delta", nuts->adapt_delta, "nuts: target acceptance statistic of the step size, in (0, 1)")
      ->capture_default_str();
  sub->add_option("--metric", nuts->metric, "nuts: diag_e | dense_e | unit_e")->capture_default_str();
  sub->add_option("--stepsize", nuts->step_size, "nuts: the first step size tried")->capture_default_str();
  auto* iter = sub->add_option("--iter", o->iterations, "Maximum number of iterations (map, laplace: 2000; advi, dadvi: 10000; pathfinder: 1000 L-BFGS iterations per path)")
                   ->check(integer_in(1, std::numeric_limits<int>::max()));
  sub->add_option("--tol-rel-grad", o->tol_rel_grad, "map, laplace, dadvi, pathfinder: relative gradient tolerance of L-BFGS, in units of machine epsilon")
      ->check(real_above(0, true))
      ->capture_default_str();
  auto* tol_obj = sub->add_option("--tol-rel-obj", o->tol_rel_obj,
                                  "Relative objective tolerance (map, laplace, dadvi, pathfinder: in units of machine epsilon, default 1e4; "
                                  "advi: relative ELBO change, default 0.01)")
                      ->check(real_above(0, true));
  sub->add_flag("--jacobian", o->jacobian, "map: include the log-Jacobian (mode in the unconstrained space), as CmdStan's jacobian=1");
  sub->add_option("--draws", a->draws,
                  "laplace, advi, dadvi: approximate posterior draws to output; pathfinder: draws of each path, and "
                  "the draws output after --psis-resample")
      ->check(integer_in(0, kMaxDraws))
      ->capture_default_str();
  sub->add_flag("--psis-resample,!--no-psis-resample", a->psis_resample,
                "laplace, advi, dadvi, pathfinder (its default; --no-psis-resample: every path's draws): output draws resampled with replacement by their Pareto-smoothed importance weights "
                "(log_p__ - log_g__), which correct the approximation towards the posterior when Pareto k-hat "
                "is below 0.7; needs --draws of at least 21");
  sub->add_option("--dadvi-draws", dadvi->dadvi_draws,
                  "dadvi: standard-normal draws fixed for the whole fit, an even number (antithetic pairs); default "
                  "30 for meanfield, for fullrank twice the number of variational parameters (at least 30)")
      ->check(integer_in(2, kMaxSamples));
  sub->add_option("--family", dadvi->family, "dadvi: meanfield (with the linear-response covariance) | fullrank")
      ->check(one_of({"meanfield", "fullrank"}))
      ->capture_default_str();
  sub->add_option("--num-paths", pathfinder->paths,
                  "pathfinder: independent paths (each from its own random initial point), run in parallel, their "
                  "draws pooled (CmdStan's num_paths)")
      ->check(integer_in(1, 1024))
      ->capture_default_str();
  sub->add_option("--history-size", pathfinder->history,
                  "pathfinder: L-BFGS correction pairs kept, the rank of the update of the diagonal inverse Hessian "
                  "(the paper's J; CmdStan's default is 5)")
      ->check(integer_in(1, 1000))
      ->capture_default_str();
  sub->add_option("--num-elbo-draws", pathfinder->elbo_draws,
                  "pathfinder: draws of each ELBO estimate along the path (CmdStan's num_elbo_draws)")
      ->check(integer_in(1, kMaxSamples))
      ->capture_default_str();
  sub->add_option("--grad-samples", a->grad_samples, "advi: draws per gradient step")
      ->check(integer_in(1, kMaxSamples))
      ->capture_default_str();
  sub->add_option("--elbo-samples", a->elbo_samples, "advi: draws per ELBO estimate")
      ->check(integer_in(1, kMaxSamples))
      ->capture_default_str();
  sub->add_option("--eval-elbo", a->eval_elbo, "advi: iterations between ELBO estimates")
      ->check(integer_in(1, std::numeric_limits<int>::max()))
      ->capture_default_str();
  auto* optimizer = sub->add_option("--optimizer", a->optimizer, "advi: stan (Stan's adaptive step sizes) | adam | sgd; "
                                                                 "svi: adam | sgd")
                        ->check(one_of({"stan", "adam", "sgd"}))
                        ->capture_default_str();
  sub->add_option("--objective", a->objective,
                  "advi: elbo | iwae (the importance-weighted bound with --k samples)")
      ->check(one_of({"elbo", "iwae"}))
      ->capture_default_str();
  auto* k = sub->add_option("--k", a->k, "advi --objective iwae: importance samples per step")
                ->check(integer_in(1, kMaxSamples));
  auto* lr = sub->add_option("--lr", a->eta, "advi: step size (stan: eta, chosen by adaptation unless given) or learning rate")
                 ->check(real_above(0, false));
  sub->add_option("--batch", s->batch, "svi: data points per minibatch")
      ->check(integer_in(1, kMaxBatch))
      ->capture_default_str();
  sub->add_option("--epochs", s->epochs, "svi: passes over the data")
      ->check(integer_in(1, std::numeric_limits<int>::max()))
      ->capture_default_str();
  sub->add_option("--kl", s->kl, "svi: mc (Monte Carlo) | analytic (closed-form KL for a normal guide and normal prior)")
      ->check(one_of({"mc", "analytic"}))
      ->capture_default_str();
  sub->add_option("--threads", s->threads,
                  "svi: threads, each taking part of every batch (default: every core); nuts: threads running the "
                  "chains (default: one per chain, at most one per core); pathfinder: threads running the paths "
                  "(default: one per path, at most one per core); at most " + std::to_string(kMaxThreads))
      ->check(integer_in(1, kMaxThreads));
  sub->add_option("--batch-parts", s->batch_parts,
                  "svi: evaluate each batch in this many parts in parallel (default: one per thread; 1: one "
                  "evaluation whose large matrix products use the threads)")
      ->check(integer_in(1, kMaxThreads));
  sub->add_option("--precision", s->precision,
                  "svi: mixed (matrix products of 2^20 or more multiply-adds in single precision, as PyTorch) | "
                  "double (everything in double)")
      ->check(one_of({"mixed", "double"}))
      ->capture_default_str();
  sub->add_option("--max-rows", s->max_rows, "svi: use only the first N data points of the plate")
      ->check(integer_in(1));
  sub->add_option("--checkpoint-every", s->checkpoint_every,
                  "svi: every N steps write the fit and the optimiser's state to --output (a checkpoint --resume "
                  "continues from)")
      ->check(integer_in(1));
  sub->add_flag("--resume", s->resume,
                "svi: continue the fit from the checkpoint at --output (written by --checkpoint-every) to the "
                "result the uninterrupted run gives; without a checkpoint there yet, start");
  sub->add_flag("--quiet,-q", o->quiet, "No progress lines");
  return [o, a, s, nuts, dadvi, pathfinder, sub, iter, tol_obj, lr, optimizer, k] {
    reject_options_of_other_methods(*sub, o->method);
    if (distributed::job().distributed() && o->method != "svi" && o->method != "advi" && o->method != "fullrank" &&
        o->method != "nuts")
      throw UserError("--method " + o->method + " runs on one process: start it without mpirun or srun (svi, advi, "
                      "fullrank and nuts run across processes)");
    o->init_option = read_init_option(o->init);
    if (o->method == "nuts") {
      nuts->threads = s->threads;
      return run_nuts(*o, *nuts);
    }
    if (o->method == "svi" && *optimizer && a->optimizer == "stan")
      throw UserError("--optimizer stan (Stan's adaptive step sizes) is for --method advi and fullrank; "
                      "--method svi takes adam or sgd");
    if (*k && a->objective != "iwae") throw UserError("--k is the number of importance samples of --objective iwae");
    if (o->method == "svi") {
      if (a->optimizer == "stan") a->optimizer = "adam";  // svi: adam (default) or sgd
      s->optimizer = a->optimizer;
      if (*lr) s->lr = a->eta;
      return run_svi(*o, *s);
    }
    if (o->method == "laplace") return run_laplace(*o, a->draws, a->psis_resample);
    if (o->method == "pathfinder") {
      if (a->draws < 1) throw UserError("--draws: pathfinder needs at least one draw per path, got 0");
      if (!*iter) o->iterations = 1000;  // CmdStan's max_lbfgs_iters
      pathfinder->draws = a->draws;
      pathfinder->psis_resample = sub->count("--psis-resample") ? a->psis_resample : true;
      pathfinder->threads = s->threads;
      return run_pathfinder(*o, *pathfinder);
    }
    if (o->method == "dadvi") {
      if (dadvi->dadvi_draws % 2 != 0)
        throw UserError("--dadvi-draws must be even (the draws are antithetic pairs): got " +
                        std::to_string(dadvi->dadvi_draws));
      // L-BFGS on a badly scaled objective (posterior sds of 1e-3 next to 1) needs thousands of steps
      if (!*iter) o->iterations = 10000;
      dadvi->draws = a->draws;
      dadvi->psis_resample = a->psis_resample;
      return run_dadvi(*o, *dadvi);
    }
    if (o->method != "map") {
      if (!*iter) o->iterations = a->iterations;
      a->iterations = o->iterations;
      if (*tol_obj) a->tol_rel_obj = o->tol_rel_obj;
      a->adapt = !*lr;
      if (!*lr && a->optimizer != "stan") a->eta = a->optimizer == "adam" ? 0.01 : 0.001;
      return run_advi(*o, *a);
    }
    LoadedModel lm = load_model(o->model, o->data, o->jacobian, o->seed);
    const BoundModel& m = *lm.model;
    if (m.num_unconstrained() == 0) throw UserError(o->model + ": the model has no parameters to fit");
    LbfgsResult r = find_mode(m, *o, o->jacobian);
    if (!o->quiet || !r.converged) std::cerr << "latent: " << r.message << " (" << r.iterations << " iterations)\n";

    EvalContext ctx;
    RandomEngine generated_quantities_rng = random_engine(o->seed, 1);
    ctx.rng = &generated_quantities_rng;
    std::vector<double> values = m.constrained_outputs(r.x.data(), &ctx);
    if (ctx.failed) throw UserError("generated quantities at the mode: " + ctx.failure_text());
    std::vector<std::string> names = m.output_names();
    std::ostringstream json, csv;
    {
      nlohmann::json j;
      j["method"] = "map";
      j["lp__"] = r.value;
      j["converged"] = r.converged;
      j["status"] = to_string(r.status);
      j["iterations"] = r.iterations;
      j["parameters"] = parameters_by_name(m, values);
      nlohmann::json all = nlohmann::json::object();
      for (size_t k = 0; k < names.size(); ++k) all[names[k]] = values[k];
      j["columns"] = all;
      j["unconstrained"] = r.x;
      json << j.dump(2) << "\n";
    }
    OptimizeConfig config;
    config.files = {o->model, o->data, o->init_option.text, first_csv_output(o->outputs), o->seed};
    config.iterations = o->iterations;
    config.tol_rel_obj = o->tol_rel_obj;
    config.tol_rel_grad = o->tol_rel_grad;
    config.jacobian = o->jacobian;
    csv << optimize_config_comment(config);
    csv << "# status = " << to_string(r.status) << ", iterations = " << r.iterations << "\n";
    csv << "lp__";
    for (auto& n : names) csv << "," << n;
    csv << "\n" << format_double(r.value);
    for (double v : values) csv << "," << format_double(v);
    csv << "\n";
    write_fit_outputs(o->outputs, csv.str(), json.str());
    if (r.status == LbfgsStatus::kMaxIterations)
      return report_not_converged("L-BFGS stopped at the iteration limit (--iter " + std::to_string(o->iterations) +
                                      ") before meeting its convergence tolerances",
                                  "the estimate may not be the mode", o->outputs);
    return 0;
  };
}

}  // namespace latent::cli
