// latent fit --method nuts: Stan's NUTS with its warm-up adaptation on parallel
// chains; one CmdStan CSV per chain and the summary on standard output.
#include "cli/chain_progress.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/summary_output.hpp"
#include "runtime/distributed/job.hpp"
#include "runtime/inference/chains.hpp"
#include "runtime/inference/chains_in_job.hpp"
#include "runtime/inference/summary.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/stan_csv.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iomanip>
#include <filesystem>
#include <iostream>
#include <memory>

namespace latent::cli {

std::string chain_output_path(const std::string& output, int chain, int chains) {
  if (chains == 1) return output;
  std::filesystem::path p(output);
  std::string name = p.stem().string() + "_" + std::to_string(chain + 1) + p.extension().string();
  return (p.parent_path() / name).string();
}

namespace {

MetricKind metric_of(const std::string& name) {
  if (name == "unit_e") return MetricKind::unit;
  if (name == "dense_e") return MetricKind::dense;
  if (name == "diag_e") return MetricKind::diagonal;
  throw UserError("--metric must be diag_e, dense_e or unit_e (got '" + name + "')");
}

}  // namespace

int run_nuts(const FitOptions& o, const NutsCliOptions& n) {
  if (o.outputs.size() > 1)
    throw UserError("--method nuts writes one CSV file per chain: give one --output (draws.csv gives draws_1.csv, "
                    "draws_2.csv, ...)");
  const std::string output = o.outputs.empty() ? "output.csv" : o.outputs.front();
  if (ends_with(output, ".json"))
    throw UserError("--method nuts writes CmdStan CSV files: --output must not be a .json file ('" + output + "')");

  NutsOptions options;
  options.chains = n.chains;
  options.threads = n.threads;
  options.warmup = n.warmup;
  options.samples = n.samples;
  options.thin = n.thin;
  options.max_depth = n.max_depth;
  options.adapt_delta = n.adapt_delta;
  options.metric = metric_of(n.metric);
  options.step_size = n.step_size;
  options.seed = o.seed;
  options.init_radius = o.init_option.radius;
  options.init = o.init_option.values.get();
  const std::string& init_text = o.init_option.text;
  validate(options);  // before compiling: a bad option fails at once

  LoadedModel lm = load_model(o.model, o.data, true, o.seed);
  const BoundModel& m = *lm.model;
  if (m.num_unconstrained() == 0) throw UserError(o.model + ": the model has no parameters to sample");
  {
    // The outputs function too (each draw's constrained values): part of compiling, not of sampling.
    auto start = std::chrono::steady_clock::now();
    std::vector<double> zero(static_cast<size_t>(m.num_unconstrained()), 0.0);
    EvalContext ignored;
    m.constrained_outputs(zero.data(), &ignored);
    lm.compile_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  // In a job of several processes each rank runs its share of the chains and
  // the root writes everything (chains_in_job.hpp); the others only sample.
  distributed::Job& job = distributed::job();
  options.only_chains = chains_of_rank(options.chains, job);
  std::unique_ptr<ChainProgressDisplay> display;
  if (!o.quiet && job.root()) {
    if (job.distributed())
      std::cerr << "latent: " << options.chains << " chains on " << job.size()
                << " processes; the progress shows the chains of this one (rank 0), the others' when they end\n";
    display = std::make_unique<ChainProgressDisplay>(options.chains, options.warmup, options.samples,
                                                     isatty(STDERR_FILENO));
    options.progress = [d = display.get()](const ChainProgress& p) { d->update(p); };
  }
  auto start = std::chrono::steady_clock::now();
  NutsRun run = run_nuts(m, options);
  double threads = run.threads;
  job.sum(&threads, 1);
  run.chains = gather_chains(std::move(run.chains), options.chains, job);
  const double sampling_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!job.root()) return 0;
  if (display) {
    const std::vector<int>& mine = *options.only_chains;
    for (const ChainResult& c : run.chains) {  // the chains of the other ranks: done
      if (std::find(mine.begin(), mine.end(), c.chain) != mine.end()) continue;
      ChainProgress p;
      p.chain = c.chain;
      p.iteration = p.total = options.warmup + options.samples;
      p.warmup = false;
      p.divergences = c.warmup_divergences + c.divergences;  // the kept draws' (all of them unless --thin)
      display->update(p);
    }
    display->finish();
  }

  for (const std::string& note : run.notes) std::cerr << "latent: note: " << note << "\n";
  for (const ChainResult& c : run.chains)
    if (c.generated_failures > 0)
      std::cerr << "latent: warning: chain " << c.chain + 1 << ": generated quantities failed at "
                << c.generated_failures << " draws (written as nan); the first: " << c.first_generated_failure << "\n";

  SamplerConfig config;
  config.model = o.model;
  config.data = o.data;
  config.init = init_text;
  config.seed = o.seed;
  config.num_chains = options.chains;
  config.warmup = options.warmup;
  config.samples = options.samples;
  config.thin = options.thin;
  config.max_depth = options.max_depth;
  config.adapt_delta = options.adapt_delta;
  config.step_size = options.step_size;
  config.metric = options.metric;
  std::vector<std::string> written;
  for (const ChainResult& c : run.chains) {
    config.chain_id = c.chain + 1;
    config.output = chain_output_path(output, c.chain, options.chains);
    write_file_atomically(config.output, stan_csv_text(config, run.columns, c));
    written.push_back(config.output);
  }

  PosteriorSummary summary = summarize(chain_tables(run, options.max_depth));
  std::cout << summary_table(summary) << std::flush;
  std::cerr << summary_warnings(summary);
  if (!o.quiet) {
    const int all_threads = static_cast<int>(threads);
    std::cerr << "latent: compiled in " << std::fixed << std::setprecision(3) << lm.compile_seconds << " s; "
              << options.chains << (options.chains == 1 ? " chain" : " chains") << " on " << all_threads
              << (all_threads == 1 ? " thread" : " threads");
    if (job.distributed()) std::cerr << " of " << job.size() << " processes";
    std::cerr << " in " << sampling_seconds << " s (warm-up and sampling)\n" << std::defaultfloat;
    std::cerr << "latent: wrote " << written.front();
    if (written.size() > 1) std::cerr << " ... " << written.back();
    std::cerr << "\n";
  }
  return 0;
}

}  // namespace latent::cli
