#include "runtime/inference/chains.hpp"

#include "runtime/inference/adaptation.hpp"
#include "runtime/inference/initial_point.hpp"
#include "runtime/inference/nuts.hpp"
#include "runtime/inference/worker_pool.hpp"
#include "kernels/random.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace latent {

const std::vector<std::string>& sampler_columns() {
  static const std::vector<std::string> columns{"lp__",         "accept_stat__", "stepsize__", "treedepth__",
                                                "n_leapfrog__", "divergent__",   "energy__"};
  return columns;
}

std::mt19937_64 chain_random_stream(uint64_t seed, int chain) {
  return random_engine(seed, kChainStreamBase + 2 * static_cast<uint64_t>(chain));
}

std::mt19937_64 chain_generated_quantities_stream(uint64_t seed, int chain) {
  return random_engine(seed, kChainStreamBase + 2 * static_cast<uint64_t>(chain) + 1);
}

void validate(const NutsOptions& o) {
  auto fail = [](const std::string& what) { throw UserError("nuts: " + what); };
  if (o.chains < 1 || o.chains > 1024) fail("the number of chains (--chains) must be between 1 and 1024 (got " + std::to_string(o.chains) + ")");
  if (o.threads < 0) fail("the number of threads (--threads) must be positive (or 0 for one per chain, at most one per core)");
  if (o.warmup < 0) fail("the number of warm-up iterations (--warmup) must be 0 or more (got " + std::to_string(o.warmup) + ")");
  if (o.samples < 1) fail("the number of samples (--samples) must be positive (got " + std::to_string(o.samples) + ")");
  if (o.thin < 1) fail("thin (--thin) must be positive (got " + std::to_string(o.thin) + ")");
  if (o.max_depth < 1 || o.max_depth > 30) fail("the maximum tree depth (--max-depth) must be between 1 and 30 (got " + std::to_string(o.max_depth) + ")");
  if (!(o.adapt_delta > 0 && o.adapt_delta < 1)) {
    std::ostringstream s;
    s << "adapt_delta (--adapt-delta) must be strictly between 0 and 1 (got " << o.adapt_delta << ")";
    fail(s.str());
  }
  if (!(o.step_size > 0) || !std::isfinite(o.step_size)) fail("the step size (--stepsize) must be positive and finite");
  if (!(o.init_radius >= 0) || !std::isfinite(o.init_radius)) fail("the initial radius (--init R) must be 0 or more");
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

class ChainRunner {
 public:
  ChainRunner(const BoundModel& model, const NutsOptions& o, size_t width, int64_t generated_begin,
              const std::atomic<bool>& stop)
      : model_(model), o_(o), width_(width), generated_begin_(generated_begin), stop_(stop) {}

  ChainResult run(int chain) {
    ChainResult r;
    r.chain = chain;
    const int64_t n = model_.num_unconstrained();
    std::mt19937_64 rng = chain_random_stream(o_.seed, chain);
    generated_rng_ = chain_generated_quantities_stream(o_.seed, chain);
    r.initial_point = find_initial_point(model_, o_.init, true, rng, o_.init_radius);

    const BoundModel& model = model_;
    NutsSampler nuts([&model](const double* q, double* grad) { return model.log_density(q, grad, true); }, n, o_.metric,
                     rng);
    nuts.set_max_depth(o_.max_depth);
    nuts.set_position(r.initial_point);
    nuts.set_step_size(o_.step_size);

    ChainProgress progress;
    progress.chain = chain;
    progress.total = o_.warmup + o_.samples;
    auto report = [&](bool warmup, bool divergent) {
      ++progress.iteration;
      progress.warmup = warmup;
      progress.divergences += divergent;
      if (o_.progress) o_.progress(progress);
    };

    // Warm-up. As Stan: mu is set from the user's step size, before the heuristic.
    auto start = Clock::now();
    if (o_.warmup > 0) {
      StepSizeAdaptation step(o_.adapt_delta);
      step.set_mu(std::log(10 * o_.step_size));
      step.restart();
      MetricAdaptation metric(n, o_.metric == MetricKind::dense, o_.warmup);
      Eigen::VectorXd inverse_diagonal;
      Eigen::MatrixXd inverse_matrix;
      nuts.init_step_size();
      for (int64_t it = 0; it < o_.warmup; ++it) {
        if (stopped()) return r;
        NutsTransition t = nuts.transition();
        r.warmup_divergences += t.divergent;
        nuts.set_step_size(step.learn(t.accept_stat));
        if (o_.metric != MetricKind::unit && metric.learn(it, nuts.state().q, inverse_diagonal, inverse_matrix)) {
          if (o_.metric == MetricKind::dense)
            nuts.metric().set_inverse_matrix(inverse_matrix);
          else
            nuts.metric().set_inverse_diagonal(inverse_diagonal);
          nuts.init_step_size();
          step.set_mu(std::log(10 * nuts.step_size()));
          step.restart();
        }
        report(true, t.divergent);
      }
      nuts.set_step_size(step.final_step_size());
    }
    r.warmup_seconds = seconds_since(start);
    r.step_size = nuts.step_size();
    const EuclideanMetric& m = nuts.metric();
    if (o_.metric == MetricKind::diagonal) r.inverse_metric.assign(m.inverse_diagonal().data(), m.inverse_diagonal().data() + n);
    if (o_.metric == MetricKind::dense)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) r.inverse_metric.push_back(m.inverse_matrix()(i, j));

    // Sampling.
    start = Clock::now();
    r.draws.reserve(width_ * static_cast<size_t>((o_.samples + o_.thin - 1) / o_.thin));
    for (int64_t it = 0; it < o_.samples; ++it) {
      if (stopped()) return r;
      NutsTransition t = nuts.transition();
      if (it % o_.thin == 0) record(r, t, nuts.state());
      report(false, t.divergent);
    }
    r.sampling_seconds = seconds_since(start);
    r.gradient_evaluations = nuts.gradient_evaluations();
    return r;
  }

 private:
  bool stopped() const { return stop_.load(std::memory_order_relaxed) || (o_.interrupt && o_.interrupt->load()); }

  void record(ChainResult& r, const NutsTransition& t, const PhasePoint& z) {
    r.draws.insert(r.draws.end(), {t.log_density, t.accept_stat, t.step_size, static_cast<double>(t.tree_depth),
                                   static_cast<double>(t.n_leapfrog), t.divergent ? 1.0 : 0.0, t.energy});
    EvalContext ctx;
    ctx.rng = &generated_rng_;
    std::vector<double> outputs = model_.constrained_outputs(z.q.data(), &ctx);
    if (ctx.failed) {
      // As Stan: the draw is kept; its generated quantities are not defined.
      if (r.generated_failures++ == 0) r.first_generated_failure = ctx.failure_text();
      std::fill(outputs.begin() + generated_begin_, outputs.end(), std::nan(""));
    }
    r.draws.insert(r.draws.end(), outputs.begin(), outputs.end());
    ++r.rows;
    r.divergences += t.divergent;
    r.max_depth_hits += t.tree_depth >= o_.max_depth;
  }

  const BoundModel& model_;
  const NutsOptions& o_;
  size_t width_;  // values per kept draw
  int64_t generated_begin_;
  const std::atomic<bool>& stop_;
  std::mt19937_64 generated_rng_;  // the `_rng` calls of generated quantities
};

}  // namespace

NutsRun run_nuts(const BoundModel& model, const NutsOptions& o) {
  validate(o);
  const int64_t n = model.num_unconstrained();
  if (n == 0) throw UserError("the model has no parameters: there is nothing to sample");

  NutsRun run;
  run.dimension = n;
  run.columns = sampler_columns();
  std::vector<std::string> outputs = model.output_names();
  run.columns.insert(run.columns.end(), outputs.begin(), outputs.end());
  int64_t generated = 0;
  for (const VariableInfo& v : model.generated_quantities()) generated += v.size();
  const int64_t generated_begin = static_cast<int64_t>(outputs.size()) - generated;

  AdaptationWindows windows(o.warmup);
  if (o.warmup > 0 && o.metric != MetricKind::unit) {
    if (!windows.enabled())
      run.notes.push_back("fewer than 20 warm-up iterations: the metric is not adapted, only the step size");
    else if (windows.shrunk()) {
      std::ostringstream s;
      s << "fewer than 150 warm-up iterations: the adaptation stages shrink to 15%/75%/10% (init_buffer = "
        << windows.init_buffer() << ", adapt_window = " << windows.base_window()
        << ", term_buffer = " << windows.term_buffer() << ")";
      run.notes.push_back(s.str());
    }
  }
  if (o.warmup == 0) run.notes.push_back("no warm-up: no adaptation; the step size is the one given and the metric the identity");

  // Compile everything the chains call before they start: afterwards the model
  // is only read.
  model.compile(true);
  {
    std::vector<double> zero(static_cast<size_t>(n), 0.0);
    EvalContext ignored;
    model.constrained_outputs(zero.data(), &ignored);
  }

  // The kept draws are held in memory until written: bounded before anything runs.
  const double kept = std::ceil(static_cast<double>(o.samples) / o.thin) * o.chains * static_cast<double>(run.columns.size());
  if (kept > static_cast<double>(int64_t{1} << 28))
    throw UserError("nuts: " + std::to_string(o.chains) + " chains x " + std::to_string(o.samples) + " samples (--thin " +
                    std::to_string(o.thin) + ") x " + std::to_string(run.columns.size()) +
                    " columns is more than 2^28 values to keep; lower --samples or --chains, or raise --thin");

  std::vector<int> mine;
  if (o.only_chains)
    mine = *o.only_chains;
  else
    for (int c = 0; c < o.chains; ++c) mine.push_back(c);
  for (size_t k = 0; k < mine.size(); ++k)
    if (mine[k] < 0 || mine[k] >= o.chains || (k > 0 && mine[k] <= mine[k - 1]))
      throw std::invalid_argument("run_nuts: only_chains must be increasing chain numbers below chains");
  run.chains.resize(mine.size());
  const int count = static_cast<int>(mine.size());
  if (count == 0) return run;  // every chain runs elsewhere
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int threads = std::min(o.threads > 0 ? o.threads : cores, count);
  run.threads = threads;
  std::atomic<bool> stop{false};
  WorkerPool pool(threads);
  pool.run(count, [&](int64_t k) {
    const int c = mine[static_cast<size_t>(k)];
    try {
      ChainRunner runner(model, o, run.columns.size(), generated_begin, stop);
      run.chains[static_cast<size_t>(k)] = runner.run(c);
    } catch (const UserError& e) {
      stop = true;
      throw UserError("chain " + std::to_string(c + 1) + ": " + e.what());
    } catch (...) {
      stop = true;
      throw;
    }
  });
  return run;
}

}  // namespace latent
