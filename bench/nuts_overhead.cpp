// The NUTS sampler's own cost per leapfrog step. Without arguments: transitions on
// a d-dimensional standard normal whose gradient is computed inline (a few
// nanoseconds), for each metric. With a model: transitions on the model (diag_e,
// after a short adaptation of the step size) against its gradient alone.
// Usage: bench_nuts_overhead [d ...] [unit_e|diag_e|dense_e]   (default: 10 100, every metric)
//        bench_nuts_overhead MODEL.lat DATA.json
#include "compiler/driver/pipeline.hpp"
#include "data/json_data.hpp"
#include "runtime/inference/adaptation.hpp"
#include "runtime/inference/initial_point.hpp"
#include "runtime/inference/nuts.hpp"
#include "runtime/model/bound_model.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

// ns per leapfrog step of transitions for about half a second.
double ns_per_leapfrog(latent::NutsSampler& nuts, double* steps_per_transition) {
  for (int i = 0; i < 100; ++i) nuts.transition();  // warm caches
  int64_t leapfrogs = 0, transitions = 0;
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::milliseconds(500)) {
    for (int i = 0; i < 20; ++i) leapfrogs += nuts.transition().n_leapfrog;
    transitions += 20;
  }
  double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count();
  *steps_per_transition = static_cast<double>(leapfrogs) / static_cast<double>(transitions);
  return ns / static_cast<double>(leapfrogs);
}

int on_model(const std::string& model_path, const std::string& data_path) {
  auto program = latent::driver::parse_file(model_path);
  latent::BoundModel model(program, latent::DataSet::from_json_file(data_path));
  model.compile(true);
  const int64_t n = model.num_unconstrained();
  std::mt19937_64 rng(1);
  std::vector<double> q = latent::find_initial_point(model, nullptr, true, rng);
  latent::NutsSampler nuts([&](const double* x, double* g) { return model.log_density(x, g, true); }, n,
                           latent::MetricKind::diagonal, rng);
  nuts.set_position(q);
  nuts.init_step_size();
  latent::StepSizeAdaptation step(0.8);
  step.set_mu(std::log(10 * nuts.step_size()));
  for (int i = 0; i < 300; ++i) nuts.set_step_size(step.learn(nuts.transition().accept_stat));
  nuts.set_step_size(step.final_step_size());
  double steps = 0;
  const double per_leapfrog = ns_per_leapfrog(nuts, &steps);
  std::vector<double> x = nuts.position(), g(static_cast<size_t>(n));
  int64_t calls = 0;
  auto start = Clock::now();
  while (Clock::now() - start < std::chrono::milliseconds(500)) {
    for (int i = 0; i < 100; ++i) model.log_density(x.data(), g.data(), true);
    calls += 100;
  }
  const double per_gradient = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / static_cast<double>(calls);
  std::printf("%s: %.1f ns per leapfrog step, %.1f ns per gradient: sampler %.1f ns (%.1f steps per transition)\n",
              model_path.c_str(), per_leapfrog, per_gradient, per_leapfrog - per_gradient, steps);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]).find('.') != std::string::npos) return on_model(argv[1], argv[2]);
  std::vector<int> dims;
  std::vector<latent::MetricKind> kinds;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "unit_e") kinds.push_back(latent::MetricKind::unit);
    else if (a == "diag_e") kinds.push_back(latent::MetricKind::diagonal);
    else if (a == "dense_e") kinds.push_back(latent::MetricKind::dense);
    else dims.push_back(std::atoi(argv[i]));
  }
  if (dims.empty()) dims = {10, 100};
  if (kinds.empty()) kinds = {latent::MetricKind::unit, latent::MetricKind::diagonal, latent::MetricKind::dense};
  for (int d : dims) {
    for (latent::MetricKind kind : kinds) {
      std::mt19937_64 rng(1);
      latent::NutsSampler nuts(
          [d](const double* q, double* g) {
            double lp = 0;
            for (int i = 0; i < d; ++i) {
              lp -= 0.5 * q[i] * q[i];
              g[i] = -q[i];
            }
            return lp;
          },
          d, kind, rng);
      nuts.set_position(std::vector<double>(static_cast<size_t>(d), 0.5));
      nuts.set_step_size(0.5);
      double steps = 0;
      const double ns = ns_per_leapfrog(nuts, &steps);
      std::printf("d = %4d  %-8s %8.1f ns per leapfrog step (%.1f steps per transition)\n", d,
                  latent::metric_name(kind).c_str(), ns, steps);
    }
  }
  return 0;
}
