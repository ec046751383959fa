#include "runtime/inference/svi.hpp"

#include "kernels/eval_context.hpp"
#include "kernels/kernels.hpp"
#include "common/source.hpp"
#include "runtime/distributed/job.hpp"
#include "runtime/inference/keyed_stream.hpp"
#include "runtime/inference/worker_pool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

namespace latent {

namespace {

// What one part of a batch keeps between steps.
struct Worker {
  std::vector<double> data, noise, out;
  EvalContext ctx;
};

void draw_normal(std::mt19937_64& rng, std::vector<double>& v, int64_t n) {
  std::normal_distribution<double> normal;
  v.resize(static_cast<size_t>(n));
  for (auto& x : v) x = normal(rng);
}

[[noreturn]] void failed(const EvalContext& ctx, const std::string& when) {
  throw UserError(ctx.failure_text() + "\n  (" + when + ")\n");
}

// Sets the kernel's threads for large products while a fit runs.
struct MatmulThreads {
  explicit MatmulThreads(int n) { latent_rt_set_matmul_threads(n); }
  ~MatmulThreads() { latent_rt_set_matmul_threads(1); }
};

// Rows [begin, end) of a batch split into `parts` nearly equal parts.
std::pair<int64_t, int64_t> part_range(int64_t size, int parts, int p) {
  int64_t base = size / parts, extra = size % parts;
  int64_t begin = p * base + std::min<int64_t>(p, extra);
  return {begin, begin + base + (p < extra ? 1 : 0)};
}

// Keys of the streams (keyed_stream.hpp) besides a row's position.
constexpr uint64_t kShuffleKey = 0x73687566666c65ULL, kGlobalNoiseKey = ~uint64_t{0};

// The order of the data in `epoch`: the same on every rank, and recomputed
// (not carried) so that a resumed fit sees the batches the first run saw.
void epoch_order(uint64_t seed, int epoch, std::vector<int64_t>& order) {
  std::iota(order.begin(), order.end(), 0);
  KeyedStream stream{seed, static_cast<uint64_t>(epoch), kShuffleKey};
  std::shuffle(order.begin(), order.end(), stream);
}

// The noise of c's rows, which are rows [first, first + c.rows) of the step's
// batch: each row's draws from the row's stream, the global draws (guided
// globals, the automatic guide) from the step's.
void draw_step_noise(const SviModel::Compiled& c, uint64_t seed, int epoch, int64_t step, int64_t first,
                     std::vector<double>& noise) {
  const SviLayout& L = c.objective.layout;
  noise.resize(static_cast<size_t>(L.noise_size));
  std::normal_distribution<double> normal;
  const uint64_t e = static_cast<uint64_t>(epoch), t = static_cast<uint64_t>(step);
  KeyedStream global{seed, e, t, kGlobalNoiseKey};
  auto fill = [&](KeyedStream& stream, int64_t offset, int64_t count) {
    for (int64_t i = 0; i < count; ++i) noise[static_cast<size_t>(offset + i)] = normal(stream);
  };
  for (const GuidedParameter& g : L.guided)
    if (!g.plate) fill(global, g.noise_offset, ir::element_count(g.dims));
  for (const AutoGuided& a : L.automatic) fill(global, a.noise_offset, a.size);
  for (int64_t r = 0; r < c.rows; ++r) {
    KeyedStream row{seed, e, t, static_cast<uint64_t>(first + r)};
    normal.reset();  // no value cached from another stream
    for (const GuidedParameter& g : L.guided) {
      if (!g.plate) continue;
      // Row r's elements: a block (the plate is an array's index, the slowest
      // axis) or every rows-th element from r (a vector's or matrix's first index).
      const int64_t per_row = ir::element_count(g.dims) / c.rows;
      const int64_t start = g.plate_last_axis ? r * per_row : r, stride = g.plate_last_axis ? 1 : c.rows;
      for (int64_t k = 0; k < per_row; ++k) noise[static_cast<size_t>(g.noise_offset + start + k * stride)] = normal(row);
    }
  }
}

}  // namespace

SviResult fit_svi(SviModel& model, const SviConfig& config, std::vector<double> phi) {
  SviState start;
  start.phi = std::move(phi);
  return fit_svi(model, config, std::move(start));
}

SviResult fit_svi(SviModel& model, const SviConfig& config, SviState state) {
  distributed::Job& job = distributed::job();
  const int64_t n = model.num_rows();
  const int64_t batch = std::min<int64_t>(config.batch, n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const int threads = std::max(1, config.threads);
  const int most_parts = std::max(1, std::min(config.batch_parts > 0 ? config.batch_parts : threads, threads));
  MatmulThreads matmul_threads(threads / most_parts);
  std::vector<double>& phi = state.phi;
  if (phi.empty()) phi = initial_phi(model.reference(), config.seed);
  if (static_cast<int64_t>(phi.size()) != model.reference().num_phi())
    throw UserError("the starting values have " + std::to_string(phi.size()) + " learnable values, the model " +
                    std::to_string(model.reference().num_phi()) + "\n");
  const size_t size = phi.size();

  WorkerPool pool(threads);
  std::vector<Worker> workers(static_cast<size_t>(most_parts));
  StochasticStepper stepper(config.optimizer, size, config.lr, config.momentum, /*compact=*/true);
  if (state.optimizer.steps > 0) {
    try {
      stepper.restore(state.optimizer);
    } catch (const std::invalid_argument&) {
      throw UserError("the checkpoint's optimiser state has " + std::to_string(state.optimizer.m.size()) +
                      " values, the model " + std::to_string(size) + "\n");
    }
  }
  long steps_taken = state.optimizer.steps;
  std::vector<int64_t> order(static_cast<size_t>(n));
  int ordered_epoch = 0;
  std::vector<float> job_sum;      // [elbo, gradient]: what the ranks add up
  std::vector<double> job_gradient;

  SviResult result;
  auto epoch_start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start).count(); };
  while (state.epoch <= config.epochs) {
    if (ordered_epoch != state.epoch) epoch_order(config.seed, ordered_epoch = state.epoch, order);
    const int64_t first = state.step * batch, rows = std::min(batch, n - first);
    // This rank's rows of the batch, in parts on its threads.
    const std::pair<int64_t, int64_t> mine = part_range(rows, job.size(), job.rank());
    const int64_t mine_begin = mine.first, mine_end = mine.second;  // (lambdas capture no structured bindings in clang 14)
    const int parts = static_cast<int>(std::min<int64_t>(most_parts, mine_end - mine_begin));
    // Compile (once per part size) before the parallel section. The global terms
    // are scaled by each part's share of the batch, so that the parts add up to it.
    std::vector<const SviModel::Compiled*> compiled(static_cast<size_t>(parts));
    for (int p = 0; p < parts; ++p) {
      auto [b, e] = part_range(mine_end - mine_begin, parts, p);
      SviOptions options{config.analytic_kl, static_cast<double>(n) / static_cast<double>(rows),
                         static_cast<double>(e - b) / static_cast<double>(rows), config.single_precision_products};
      compiled[static_cast<size_t>(p)] = &model.compiled(e - b, options);
    }
    pool.run(parts, [&](int64_t p) {
      Worker& w = workers[static_cast<size_t>(p)];
      const SviModel::Compiled& c = *compiled[static_cast<size_t>(p)];
      const int64_t b = mine_begin + part_range(mine_end - mine_begin, parts, static_cast<int>(p)).first;
      model.gather(c, order.data() + first + b, w.data);
      draw_step_noise(c, config.seed, state.epoch, state.step, b, w.noise);
      w.out.resize(1 + size);
      w.ctx.reset();
      SviModel::call(c, c.elbo_grad, phi.data(), w.data.data(), w.noise.data(), w.out.data(), &w.ctx);
    });
    // Named only when a step fails (not built on every step).
    auto where = [&] { return "epoch " + std::to_string(state.epoch) + ", step " + std::to_string(state.step + 1); };
    for (int p = 0; p < parts; ++p)
      if (workers[static_cast<size_t>(p)].ctx.failed) failed(workers[static_cast<size_t>(p)].ctx, where());
    // The batch's ELBO and gradient: the parts' sum, then in a job of several
    // ranks the ranks' sum (every rank then holds the same and steps alike).
    double elbo = 0;
    std::vector<const double*> grads;
    bool stop_requested = config.stop && config.stop->load();
    if (!job.distributed()) {
      for (int p = 0; p < parts; ++p) {
        elbo += workers[static_cast<size_t>(p)].out[0];
        grads.push_back(workers[static_cast<size_t>(p)].out.data() + 1);
      }
    } else {
      job_sum.resize(2 + size);  // [elbo, gradient, stop requests]
      job_gradient.resize(size);
      job_sum.back() = config.stop && config.stop->load() ? 1.0f : 0.0f;
      pool.run(threads, [&](int64_t t) {
        auto [from, to] = part_range(static_cast<int64_t>(size) + 1, threads, static_cast<int>(t));
        for (int64_t i = from; i < to; ++i) {
          double s = 0;
          for (int p = 0; p < parts; ++p) s += workers[static_cast<size_t>(p)].out[static_cast<size_t>(i)];
          job_sum[static_cast<size_t>(i)] = static_cast<float>(s);
        }
      });
      job.sum(job_sum.data(), job_sum.size());
      elbo = job_sum[0];
      std::copy(job_sum.begin() + 1, job_sum.end() - 1, job_gradient.begin());
      stop_requested = job_sum.back() > 0;
      grads.push_back(job_gradient.data());
    }
    if (!std::isfinite(elbo)) {
      std::ostringstream msg;
      msg << "SVI diverged at " << where() << ": the ELBO estimate is " << elbo << "; try a smaller --lr";
      throw UserError(msg.str() + "\n");
    }
    // Step, each thread on its own range of phi (summing the parts' gradients on the way).
    stepper.begin_step();
    ++steps_taken;
    pool.run(threads, [&](int64_t p) {
      auto [from, to] = part_range(static_cast<int64_t>(size), threads, static_cast<int>(p));
      stepper.update(phi.data(), grads.data(), grads.size(), static_cast<size_t>(from), static_cast<size_t>(to));
    });
    for (int64_t i = 0; i < static_cast<int64_t>(size); i += 4096)
      if (!std::isfinite(phi[static_cast<size_t>(i)]))
        throw UserError("SVI diverged at epoch " + std::to_string(state.epoch) + ": a learnable value is not finite; "
                        "try a smaller --lr\n");
    state.elbo_sum += elbo;
    if (++state.step == steps_per_epoch) {
      SviEpoch e;
      e.epoch = state.epoch;
      e.seconds = state.seconds + elapsed();
      e.neg_elbo_per_datum = -state.elbo_sum / static_cast<double>(steps_per_epoch) / static_cast<double>(n);
      e.items_per_second = static_cast<double>(n) / e.seconds;
      result.epochs.push_back(e);
      if (config.progress) config.progress(e);
      ++state.epoch;
      state.step = 0;
      state.elbo_sum = 0;
      state.seconds = 0;
      epoch_start = std::chrono::steady_clock::now();
    }
    if (config.checkpoint && config.checkpoint_every > 0 && steps_taken % config.checkpoint_every == 0) {
      state.optimizer = stepper.state();
      double seconds = state.seconds;
      state.seconds += elapsed();
      config.checkpoint(state);
      state.seconds = seconds;
    }
    if (stop_requested && state.epoch <= config.epochs) {
      result.stopped = true;
      state.seconds += elapsed();
      break;
    }
  }
  if (config.checkpoint) {
    state.optimizer = stepper.state();
    config.checkpoint(state);
  }
  if (result.stopped) {
    result.where = state;
    result.where.phi.clear();
  }
  result.phi = std::move(phi);
  return result;
}

SviEvaluation evaluate_svi(SviModel& model, const std::vector<double>& phi, bool analytic_kl, int iwae_k,
                           int64_t batch, int threads, uint64_t seed, bool single_precision_products) {
  const int64_t n = model.num_rows();
  batch = std::min(batch, n);
  const int64_t batches = (n + batch - 1) / batch;
  threads = std::max(1, threads);
  if (static_cast<int64_t>(phi.size()) != model.reference().num_phi())
    throw UserError("the fit has " + std::to_string(phi.size()) + " learnable values, the model " +
                    std::to_string(model.reference().num_phi()) + "\n");
  // Compile every batch size first (compilation is serialised anyway).
  auto options_for = [&](int64_t rows) {
    return SviOptions{analytic_kl, static_cast<double>(n) / static_cast<double>(rows), 1.0,
                      single_precision_products};
  };
  // Without latent variables the objective is the exact log-likelihood: nothing to bound.
  const SviLayout& layout = model.reference().objective.layout;
  const bool exact = layout.guided.empty() && layout.automatic.empty();
  if (exact) iwae_k = 0;
  for (int64_t rows : {batch, n - (batches - 1) * batch}) {
    const SviModel::Compiled& c = model.compiled(rows, options_for(rows), SviModel::Use::Evaluation);
    if (iwae_k > 0 && !c.log_weights)
      throw UserError("the importance-weighted bound needs per-datum weights, which this model does not have: " +
                      c.objective.log_weights_unavailable + " (`--iwae 0` evaluates the ELBO alone)\n");
  }
  std::vector<double> elbo(static_cast<size_t>(batches)), iwae(static_cast<size_t>(batches));
  WorkerPool pool(threads);
  pool.run(batches, [&](int64_t b) {
    const int64_t first = b * batch, rows = std::min(batch, n - first);
    const SviModel::Compiled& c = model.compiled(rows, options_for(rows), SviModel::Use::Evaluation);
    std::mt19937_64 rng(seed * 1000003 + static_cast<uint64_t>(b));
    std::vector<int64_t> index(static_cast<size_t>(rows));
    std::iota(index.begin(), index.end(), first);
    std::vector<double> data, noise;
    double value = 0;
    model.gather(c, index.data(), data);
    EvalContext ctx;
    draw_normal(rng, noise, c.noise_size());
    SviModel::call(c, c.elbo, phi.data(), data.data(), noise.data(), &value, &ctx);
    if (ctx.failed) failed(ctx, "evaluating rows " + std::to_string(first + 1) + "-" + std::to_string(first + rows));
    // Each batch estimates the full-data ELBO; weighted by its share of the data.
    elbo[static_cast<size_t>(b)] = value * static_cast<double>(rows) / static_cast<double>(n);
    if (iwae_k <= 0) return;
    // log mean_k w_nk per datum, by a running log-sum-exp over the K draws.
    std::vector<double> best(static_cast<size_t>(rows), -INFINITY), sum(static_cast<size_t>(rows), 0.0),
        lw(static_cast<size_t>(rows));
    for (int k = 0; k < iwae_k; ++k) {
      draw_normal(rng, noise, c.noise_size());
      SviModel::call(c, c.log_weights, phi.data(), data.data(), noise.data(), lw.data(), &ctx);
      if (ctx.failed) failed(ctx, "importance weights");
      for (size_t i = 0; i < lw.size(); ++i) {
        if (lw[i] > best[i]) {
          sum[i] = sum[i] * std::exp(best[i] - lw[i]) + 1;
          best[i] = lw[i];
        } else {
          sum[i] += std::exp(lw[i] - best[i]);
        }
      }
    }
    double total = 0;
    for (size_t i = 0; i < lw.size(); ++i) total += best[i] + std::log(sum[i] / iwae_k);
    iwae[static_cast<size_t>(b)] = total;
  });
  SviEvaluation e;
  e.rows = n;
  e.exact = exact;
  e.neg_elbo_per_datum = -std::accumulate(elbo.begin(), elbo.end(), 0.0) / static_cast<double>(n);
  e.iwae_k = iwae_k;
  if (iwae_k > 0) e.iwae_log_likelihood_per_datum = std::accumulate(iwae.begin(), iwae.end(), 0.0) / static_cast<double>(n);
  return e;
}

}  // namespace latent
