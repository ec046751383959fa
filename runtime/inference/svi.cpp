#include "runtime/inference/svi.hpp"

#include "kernels/eval_context.hpp"
#include "kernels/kernels.hpp"
#include "common/source.hpp"
#include "runtime/inference/worker_pool.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>

namespace latent {

namespace {

// What one thread keeps between steps.
struct Worker {
  std::mt19937_64 rng;
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

}  // namespace

SviResult fit_svi(SviModel& model, const SviConfig& config, std::vector<double> phi) {
  const int64_t n = model.num_rows();
  const int64_t batch = std::min<int64_t>(config.batch, n);
  const int threads = std::max(1, config.threads);
  const int wanted_parts = config.batch_parts > 0 ? config.batch_parts : threads;
  const int parts = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({wanted_parts, threads, batch})));
  MatmulThreads matmul_threads(threads / parts);
  if (phi.empty()) phi = initial_phi(model.reference(), config.seed);
  if (static_cast<int64_t>(phi.size()) != model.reference().num_phi())
    throw UserError("the starting values have " + std::to_string(phi.size()) + " learnable values, the model " +
                    std::to_string(model.reference().num_phi()) + "\n");
  const size_t size = phi.size();

  WorkerPool pool(threads);
  std::vector<Worker> workers(static_cast<size_t>(parts));
  for (int w = 0; w < parts; ++w) workers[static_cast<size_t>(w)].rng.seed(config.seed * 7919 + 17 + static_cast<uint64_t>(w));
  StochasticStepper stepper(config.optimizer, size, config.lr, config.momentum, /*compact=*/true);
  std::mt19937_64 shuffle_rng(config.seed);
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);

  SviResult result;
  for (int epoch = 1; epoch <= config.epochs; ++epoch) {
    auto start = std::chrono::steady_clock::now();
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    double elbo_sum = 0;
    int64_t steps = 0;
    for (int64_t first = 0; first < n; first += batch, ++steps) {
      const int64_t rows = std::min(batch, n - first);
      SviOptions options{config.analytic_kl, static_cast<double>(n) / static_cast<double>(rows), 1.0 / parts,
                         config.single_precision_products};
      // Compile (once per part size) before the parallel section.
      std::vector<const SviModel::Compiled*> compiled(static_cast<size_t>(parts));
      for (int p = 0; p < parts; ++p) {
        auto [b, e] = part_range(rows, parts, p);
        compiled[static_cast<size_t>(p)] = &model.compiled(e - b, options);
      }
      pool.run(parts, [&](int64_t p) {
        Worker& w = workers[static_cast<size_t>(p)];
        const SviModel::Compiled& c = *compiled[static_cast<size_t>(p)];
        auto [b, e] = part_range(rows, parts, static_cast<int>(p));
        model.gather(c, order.data() + first + b, w.data);
        draw_normal(w.rng, w.noise, c.noise_size());
        w.out.resize(1 + size);
        w.ctx.reset();
        SviModel::call(c, c.elbo_grad, phi.data(), w.data.data(), w.noise.data(), w.out.data(), &w.ctx);
      });
      double elbo = 0;
      for (auto& w : workers) {
        if (w.ctx.failed) failed(w.ctx, "epoch " + std::to_string(epoch) + ", step " + std::to_string(steps + 1));
        elbo += w.out[0];
      }
      if (!std::isfinite(elbo)) {
        std::ostringstream msg;
        msg << "SVI diverged at epoch " << epoch << ", step " << steps + 1 << ": the ELBO estimate is " << elbo
            << "; try a smaller --lr";
        throw UserError(msg.str() + "\n");
      }
      elbo_sum += elbo;
      // Sum the parts' gradients and step, each thread on its own range of phi.
      stepper.begin_step();
      std::vector<const double*> grads;
      for (auto& w : workers) grads.push_back(w.out.data() + 1);
      pool.run(threads, [&](int64_t p) {
        auto [from, to] = part_range(static_cast<int64_t>(size), threads, static_cast<int>(p));
        stepper.update(phi.data(), grads.data(), grads.size(), static_cast<size_t>(from), static_cast<size_t>(to));
      });
      for (int64_t i = 0; i < static_cast<int64_t>(size); i += 4096)
        if (!std::isfinite(phi[static_cast<size_t>(i)]))
          throw UserError("SVI diverged at epoch " + std::to_string(epoch) + ": a learnable value is not finite; "
                          "try a smaller --lr\n");
    }
    SviEpoch e;
    e.epoch = epoch;
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    e.neg_elbo_per_datum = -elbo_sum / static_cast<double>(steps) / static_cast<double>(n);
    e.items_per_second = static_cast<double>(n) / e.seconds;
    result.epochs.push_back(e);
    if (config.progress) config.progress(e);
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
