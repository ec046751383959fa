// The NUTS sampler's own cost per leapfrog step, without a model: transitions on
// a d-dimensional standard normal whose gradient is computed inline (a few
// nanoseconds), for each metric, against the cost of the gradient alone.
// Usage: bench_nuts_overhead [d ...] [unit_e|diag_e|dense_e]   (default: 10 100, every metric)
#include "runtime/inference/nuts.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
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
      int64_t leapfrogs = 0;
      for (int i = 0; i < 200; ++i) leapfrogs += nuts.transition().n_leapfrog;  // warm caches
      leapfrogs = 0;
      auto start = std::chrono::steady_clock::now();
      int transitions = 0;
      while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(500)) {
        for (int i = 0; i < 100; ++i) leapfrogs += nuts.transition().n_leapfrog;
        transitions += 100;
      }
      double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
      std::printf("d = %4d  %-8s %8.1f ns per leapfrog step (%.1f steps per transition)\n", d,
                  latent::metric_name(kind).c_str(), ns / static_cast<double>(leapfrogs),
                  static_cast<double>(leapfrogs) / transitions);
    }
  }
  return 0;
}
