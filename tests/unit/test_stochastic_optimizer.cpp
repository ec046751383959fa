// The stochastic optimisers shared by ADVI and SVI (runtime/optim/stochastic_optimizer.hpp):
// Adam's step against the update written out in double precision, with moments
// in double and in float (SVI's compact form), over several steps, with a
// gradient summed from parts, and with runs of exactly zero gradients (masked
// weights: they must stay exactly where they are, while their neighbours move).
#define BOOST_TEST_MODULE stochastic_optimizer
#include <boost/test/unit_test.hpp>

#include "runtime/optim/stochastic_optimizer.hpp"

#include <cmath>
#include <random>
#include <vector>

using namespace latent;

namespace {

// Adam written out: m, v from zero, bias-corrected, ascending.
struct ReferenceAdam {
  std::vector<double> m, v;
  int t = 0;
  void step(std::vector<double>& phi, const std::vector<double>& g, double eta) {
    if (m.empty()) m.assign(phi.size(), 0.0), v.assign(phi.size(), 0.0);
    ++t;
    for (size_t i = 0; i < phi.size(); ++i) {
      m[i] = 0.9 * m[i] + 0.1 * g[i];
      v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
      double mhat = m[i] / (1 - std::pow(0.9, t)), vhat = v[i] / (1 - std::pow(0.999, t));
      phi[i] += eta * mhat / (std::sqrt(vhat) + 1e-8);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(adam_matches_the_written_out_update_and_leaves_zero_gradients_alone) {
  const size_t n = 1000;  // runs of zeros across the step's blocks, and a ragged end
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<double> start(n);
  for (double& x : start) x = normal(rng);
  // Elements [128, 320) and [700, 1000) never get a gradient; [384, 448), one
  // whole run of the step's, gets one at the first step only: it goes on moving
  // on its moments.
  auto zero = [](size_t i) { return (i >= 128 && i < 320) || i >= 700; };
  auto first_only = [](size_t i) { return i >= 384 && i < 448; };
  for (bool compact : {false, true}) {
    StochasticStepper stepper(StochasticOptimizer::Adam, n, 0.01, 0.9, compact);
    ReferenceAdam reference;
    std::vector<double> phi = start, want = start;
    for (int step = 1; step <= 4; ++step) {
      std::vector<double> a(n), b(n), g(n);
      for (size_t i = 0; i < n; ++i) {
        bool none = zero(i) || (first_only(i) && step > 1);
        a[i] = none ? 0.0 : normal(rng);
        b[i] = none ? 0.0 : normal(rng);
        g[i] = a[i] + b[i];
      }
      const double* parts[] = {a.data(), b.data()};
      stepper.begin_step();
      stepper.update(phi.data(), parts, 2, 0, n / 2);
      stepper.update(phi.data(), parts, 2, n / 2, n);
      reference.step(want, g, 0.01);
    }
    const double tolerance = compact ? 1e-6 : 1e-12;  // float moments round at 1e-7 relative
    for (size_t i = 0; i < n; ++i) {
      if (zero(i)) BOOST_TEST(phi[i] == start[i], "phi[" << i << "] moved without a gradient");
      BOOST_TEST(std::fabs(phi[i] - want[i]) <= tolerance * 0.04,
                 (compact ? "float" : "double") << " moments, phi[" << i << "]: " << phi[i] << " vs " << want[i]);
    }
    // The run with one gradient moved in the later steps too (a step that ignored
    // the moments where the gradient is zero would leave it 0.03 short).
    for (size_t i = 384; i < 448; ++i) BOOST_TEST(std::fabs(phi[i] - start[i]) > 0.02);
  }
}
