// latent eval MODEL --data D --fit FIT.json --iwae K: estimates of log p(data)
// from a variational fit: the importance-weighted bound IWAE_K (which tends to
// log p(data) as K grows) and the ELBO, both compiled and evaluated with K draws.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "cli/fit_options.hpp"
#include "runtime/inference/advi.hpp"
#include "runtime/output/variational_fit.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>

namespace latent::cli {

namespace {

struct EvalOptions {
  std::string model, data, fit;
  int iwae = 100;
  uint64_t seed = 0;
  int64_t batch = 500, max_rows = 0;
  int threads = 0;  // every core
  std::string precision = "mixed";
};

bool is_svi_fit(const std::string& path) {
  std::ifstream in(path);
  std::string head(64, '\0');
  in.read(head.data(), 64);
  return head.find("latent-svi-fit") != std::string::npos;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  auto* sub = app.add_subcommand("eval", "Estimate log p(data) from a variational fit (IWAE bound and ELBO)");
  sub->add_option("model", o->model, "Model file")->required();
  sub->add_option("--data", o->data, "Data file (CmdStan JSON or R dump, .data.R)");
  sub->add_option("--fit", o->fit, "Variational fit (JSON from latent fit --method advi|fullrank -o fit.json)");
  sub->add_option("--iwae", o->iwae, "Number of importance samples K (svi fits: 0 evaluates the ELBO alone)")
      ->check(integer_in(0, kMaxSamples))
      ->capture_default_str();
  sub->add_option("--seed", o->seed, "Random seed")->check(integer_in(0));
  sub->add_option("--batch", o->batch, "svi fits: data points per evaluation batch")->check(integer_in(1, kMaxBatch));
  sub->add_option("--threads", o->threads, "svi fits: threads (default: every core)")->check(integer_in(1, kMaxThreads));
  sub->add_option("--max-rows", o->max_rows, "svi fits: evaluate the first N data points only")->check(integer_in(1));
  sub->add_option("--precision", o->precision, "svi fits: mixed (large matrix products in single precision) | double")
      ->check(one_of({"mixed", "double"}))
      ->capture_default_str();
  return [o, sub] {
    if (!o->fit.empty() && is_svi_fit(o->fit))
      return run_svi_eval(o->model, o->data, o->fit, o->iwae, o->batch, threads_or_all_cores(o->threads), o->max_rows, o->seed,
                          o->precision == "mixed");
    for (const char* svi_only : {"--batch", "--threads", "--max-rows", "--precision"})
      if (sub->count(svi_only))
        throw UserError(std::string(svi_only) + " is an option for evaluating SVI fits (latent fit --method svi), and " +
                        (o->fit.empty() ? std::string("no --fit was given") : "'" + o->fit + "' is not one"));
    if (o->iwae == 0)
      throw UserError("--iwae 0 (the ELBO alone) is for SVI fits; an ADVI fit's ELBO and IWAE bound are both "
                      "estimated with K draws: give K >= 1");
    LoadedModel lm = load_model(o->model, o->data, true);
    const BoundModel& m = *lm.model;
    nlohmann::json out;
    out["k"] = o->iwae;
    if (m.num_unconstrained() == 0) {
      // Nothing to integrate out: the bound is the exact log-likelihood.
      double lp = m.log_density(nullptr, nullptr, true);
      out["iwae"] = lp;
      out["elbo"] = lp;
      out["exact"] = true;
    } else {
      if (o->fit.empty()) throw UserError("--fit is required: the model has parameters to integrate out");
      Family family;
      std::vector<double> phi = read_variational_fit(o->fit, m.num_unconstrained(), &family);
      out["iwae"] = estimate_iwae(m, family, phi, o->iwae, o->seed);
      out["elbo"] = estimate_elbo(m, family, phi, o->iwae, o->seed);
      out["exact"] = false;
    }
    std::cout << out.dump() << "\n";
    return 0;
  };
}

}  // namespace latent::cli
