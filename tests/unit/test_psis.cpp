// Pareto-smoothed importance sampling (runtime/inference/psis.hpp): k̂ on weights
// whose tail shape is known, and k̂ and smoothed weights of fixed log ratios
// against an independent implementation (numpy, below).
#define BOOST_TEST_MODULE psis
#include <boost/test/unit_test.hpp>

#include "runtime/inference/psis.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

using namespace latent;

namespace {

// The reference values below were computed with this numpy code (written from
// Vehtari et al. 2024 and Zhang & Stephens 2009, as loo::psis with r_eff = 1):
//
//   def gpd_fit(x):          # x sorted ascending
//       n = len(x); m = 30 + int(np.floor(np.sqrt(n)))
//       xstar = x[int(np.floor(n / 4 + 0.5)) - 1]
//       if not xstar > x[0]: return np.inf, np.nan
//       j = np.arange(1, m + 1)
//       theta = 1 / x[-1] + (1 - np.sqrt(m / (j - 0.5))) / 3 / xstar
//       k = np.log1p(-np.outer(theta, x)).mean(axis=1)
//       l = n * (np.log(-theta / k) - k - 1)
//       w = np.exp(l - l.max()); w /= w.sum()
//       th = (theta * w).sum()
//       k = np.log1p(-th * x).mean(); sigma = -k / th
//       return (k * n + 5) / (n + 10), sigma
//   def psis(lr):
//       lr = np.asarray(lr, float); s = len(lr); lw = lr - lr.max()
//       m = int(np.ceil(min(0.2 * s, 3 * np.sqrt(s)))); k = np.inf
//       if m >= 5:
//           o = np.argsort(lw, kind="stable"); tail = o[s - m:]
//           cut = np.exp(lw[o[s - m - 1]])
//           k, sigma = gpd_fit(np.exp(lw[tail]) - cut)
//           if np.isfinite(k):
//               p = (np.arange(m) + 0.5) / m
//               lw[tail] = np.log(sigma * np.expm1(-k * np.log1p(-p)) / k + cut)
//       lw = np.minimum(lw, 0)
//       return k, np.exp(lw) / np.exp(lw).sum()
//   g = 0.6180339887498949
//   A = -0.8 * np.log(np.array([((i + 1) * g) % 1.0 for i in range(1000)]))
//   zB = np.array([2 * np.sin(1.3 * i) for i in range(400)]); B = -0.5 * zB**2 + 0.5 * zB**2 / 2.25
//   C = np.array([np.sin(i * i * 0.37) * 2 + 0.1 * i for i in range(30)])
//
// printing k, the normalised weights w[argmax(lr)], w[0], w[5] and 1 / sum(w**2).
struct Reference {
  std::vector<double> log_ratios;
  double k, w_max, w0, w5, ess;
};

std::vector<double> case_a() {  // Pareto weights of shape 1/0.8 at a low-discrepancy sequence
  const double g = 0.6180339887498949;
  std::vector<double> v;
  for (int i = 0; i < 1000; ++i) v.push_back(-0.8 * std::log(std::fmod((i + 1) * g, 1.0)));
  return v;
}
std::vector<double> case_b() {  // N(0, 1) over N(0, 1.5^2): bounded weights
  std::vector<double> v;
  for (int i = 0; i < 400; ++i) {
    double z = 2 * std::sin(1.3 * i);
    v.push_back(-0.5 * z * z + 0.5 * z * z / 2.25);
  }
  return v;
}
std::vector<double> case_c() {  // 30 irregular values: a tail of 6
  std::vector<double> v;
  for (int i = 0; i < 30; ++i) v.push_back(std::sin(i * i * 0.37) * 2 + 0.1 * i);
  return v;
}

std::vector<Reference> references() {
  return {
      {case_a(), 0.7216007058043438, 0.0818993168552422, 0.00037378227965663354, 0.0003351983938939541, 85.54728777778496},
      {case_b(), -1.253409867777955, 0.004031574422500058, 0.004031574422500058, 0.003846123673512148, 348.9761534843299},
      {case_c(), 0.5221780499023498, 0.28227176781620283, 0.003017942699492827, 0.00704525502885413, 7.735377114191804},
  };
}

double mean_k_of_pareto_weights(double k, int draws, int replicates, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  double total = 0;
  for (int r = 0; r < replicates; ++r) {
    std::vector<double> lr(static_cast<size_t>(draws));
    for (double& x : lr) x = -k * std::log1p(-u(rng));  // w = U^-k: Pareto with shape 1/k
    total += psis(lr).pareto_k;
  }
  return total / replicates;
}

}  // namespace

BOOST_AUTO_TEST_CASE(tail_length_is_loos) {
  BOOST_TEST(psis_tail_length(100) == 20u);    // 0.2 * 100 < 3 * 10
  BOOST_TEST(psis_tail_length(1000) == 95u);   // ceil(3 * 31.62)
  BOOST_TEST(psis_tail_length(30) == 6u);
  BOOST_TEST(psis_tail_length(4000) == 190u);  // ceil(3 * 63.25) = 190
}

BOOST_AUTO_TEST_CASE(k_and_weights_match_the_independent_implementation) {
  for (const Reference& r : references()) {
    PsisResult p = psis(r.log_ratios);
    BOOST_TEST_CONTEXT("reference k " << r.k) {
      BOOST_TEST(std::fabs(p.pareto_k - r.k) < 1e-9);
      size_t argmax = static_cast<size_t>(std::max_element(r.log_ratios.begin(), r.log_ratios.end()) - r.log_ratios.begin());
      BOOST_TEST(std::fabs(p.weights[argmax] - r.w_max) < 1e-12);
      BOOST_TEST(std::fabs(p.weights[0] - r.w0) < 1e-12);
      BOOST_TEST(std::fabs(p.weights[5] - r.w5) < 1e-12);
      BOOST_TEST(std::fabs(p.ess - r.ess) < 1e-8);
      BOOST_TEST(std::fabs(std::accumulate(p.weights.begin(), p.weights.end(), 0.0) - 1) < 1e-12);
      // log weights on the input's scale: exp(lw) normalised are the weights
      double top = *std::max_element(p.log_weights.begin(), p.log_weights.end());
      BOOST_TEST(top <= r.log_ratios[argmax] + 1e-12);  // truncated at the largest raw ratio
    }
  }
}

BOOST_AUTO_TEST_CASE(k_is_invariant_to_a_constant_shift) {
  std::vector<double> a = case_a(), shifted = a;
  for (double& x : shifted) x += 1234.5;
  BOOST_TEST(std::fabs(psis(a).pareto_k - psis(shifted).pareto_k) < 1e-9);
}

// Weights U^-k are Pareto with tail index 1/k: k̂ estimates k (averaged over
// replicates; loo's prior pulls each estimate by 5 / (M + 10) towards 0.5).
BOOST_AUTO_TEST_CASE(k_of_pareto_weights_is_their_shape) {
  for (double k : {0.2, 0.5, 0.8, 1.2}) {
    double mean_k = mean_k_of_pareto_weights(k, 10000, 20, 7);
    BOOST_TEST_CONTEXT("k = " << k) { BOOST_TEST(std::fabs(mean_k - k) < 0.05, "mean k-hat " << mean_k); }
  }
}

// Normal approximation to a normal target: q = N(0, 1), p = N(m, s^2). With s < 1
// the weights are bounded (k < 0.5); with s > 1 the ratio p/q grows as
// exp((1 - 1/s^2) z^2 / 2), whose tail index is k = 1 - 1/s^2 (0.75 for s = 2, 0.89
// for s = 3). k̂ approaches it slowly (the tail has a logarithmic factor): the numpy
// code above gives a mean k̂ of 0.66 (s = 2) and 0.75 (s = 3) over 5 sets of 4000
// draws, and 0.74 and 0.81 with 100000.
BOOST_AUTO_TEST_CASE(k_of_normal_ratios) {
  auto mean_k = [](double m, double s) {
    std::mt19937_64 rng(11);
    std::normal_distribution<double> normal;
    double total = 0;
    for (int r = 0; r < 5; ++r) {
      std::vector<double> lr(4000);
      for (double& x : lr) {
        double z = normal(rng), d = (z - m) / s;
        x = (-0.5 * d * d - std::log(s)) - (-0.5 * z * z);
      }
      total += psis(lr).pareto_k;
    }
    return total / 5;
  };
  BOOST_TEST(mean_k(0.3, 0.9) < 0.5);
  BOOST_TEST(mean_k(0.0, 0.5) < 0.5);
  double k2 = mean_k(0.0, 2.0), k3 = mean_k(0.0, 3.0);
  BOOST_TEST((k2 > 0.58 && k2 < 0.75), "s = 2: mean k-hat " << k2);
  BOOST_TEST(k3 > 0.7, "s = 3: mean k-hat " << k3);
}

BOOST_AUTO_TEST_CASE(non_finite_ratios) {
  std::vector<double> lr = case_c();
  lr[3] = -INFINITY;
  lr[4] = std::nan("");
  PsisResult p = psis(lr);
  BOOST_TEST(p.weights[3] == 0.0);
  BOOST_TEST(p.weights[4] == 0.0);
  BOOST_TEST(std::isfinite(p.pareto_k));
  BOOST_CHECK_THROW(psis({1.0, INFINITY, 2.0}), std::invalid_argument);
  BOOST_CHECK_THROW(psis({-INFINITY, -INFINITY}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(too_few_draws_or_equal_ratios) {
  // 20 draws: a tail of 4 < 5, no fit; weights are the raw ones, normalised.
  std::vector<double> lr;
  for (int i = 0; i < 20; ++i) lr.push_back(0.1 * i);
  PsisResult p = psis(lr);
  BOOST_TEST(std::isinf(p.pareto_k));
  double total = 0;
  for (double x : lr) total += std::exp(x);
  BOOST_TEST(std::fabs(p.weights[7] - std::exp(0.7) / total) < 1e-12);
  // equal ratios (to rounding): an exact approximation, k̂ = -inf ("good"), equal weights
  std::vector<double> equal(100, 3.0);
  equal[17] += 1e-14;
  PsisResult flat = psis(equal);
  BOOST_TEST((flat.pareto_k == -INFINITY));
  BOOST_TEST(std::string(pareto_k_verdict(flat.pareto_k)) == "good");
  BOOST_TEST(std::fabs(flat.weights[42] - 0.01) < 1e-15);
  BOOST_TEST(std::fabs(flat.ess - 100) < 1e-9);
}

BOOST_AUTO_TEST_CASE(generalized_pareto_quantile_inverts_the_cdf) {
  // F(x) = 1 - (1 + k x / sigma)^(-1/k); k = 0: 1 - exp(-x / sigma)
  for (double k : {-0.3, 0.0, 0.4, 1.5})
    for (double p : {0.1, 0.5, 0.99}) {
      double x = generalized_pareto_quantile(p, k, 2.0);
      double f = k == 0 ? 1 - std::exp(-x / 2.0) : 1 - std::pow(1 + k * x / 2.0, -1 / k);
      BOOST_TEST(std::fabs(f - p) < 1e-12);
    }
  BOOST_TEST(std::isnan(generalized_pareto_quantile(0.5, 0.3, 0.0)));
}

BOOST_AUTO_TEST_CASE(verdicts) {
  BOOST_TEST(std::string(pareto_k_verdict(0.2)) == "good");
  BOOST_TEST(std::string(pareto_k_verdict(0.5)) == "acceptable");
  BOOST_TEST(std::string(pareto_k_verdict(0.7)) == "acceptable");
  BOOST_TEST(std::string(pareto_k_verdict(0.71)) == "unreliable");
  BOOST_TEST(std::string(pareto_k_verdict(INFINITY)) == "unreliable");
  BOOST_TEST(std::string(pareto_k_verdict(std::nan(""))) == "unreliable");
  BOOST_TEST(pareto_k_message(0.3141).rfind("Pareto k-hat = 0.31: good", 0) == 0);
}

BOOST_AUTO_TEST_CASE(resampling_follows_the_weights) {
  std::mt19937_64 rng(3);
  std::vector<double> w = {0.1, 0.0, 0.6, 0.3};
  std::vector<size_t> idx = resample_indices(w, 100000, rng);
  std::vector<double> freq(4, 0.0);
  for (size_t i : idx) freq[i] += 1e-5;
  BOOST_TEST(freq[1] == 0.0);
  for (size_t i : {0, 2, 3}) BOOST_TEST(std::fabs(freq[i] - w[i]) < 0.006);  // 4 sd of a binomial proportion
}
