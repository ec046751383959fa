// The `_rng` functions: every distribution's sampler against its distribution
// (Boost.Math's CDFs and moments, an independent implementation): moments within
// Monte Carlo error and a Kolmogorov-Smirnov (continuous) or chi-square
// (discrete) test at fixed seeds; vectorised calls, draws in loops, streams and
// seeds; argument checks.
#define BOOST_TEST_MODULE rng
#include <boost/test/unit_test.hpp>

#include "kernels/random.hpp"
#include "tests/support/model_fixture.hpp"

#include <boost/math/distributions/bernoulli.hpp>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/cauchy.hpp>
#include <boost/math/distributions/chi_squared.hpp>
#include <boost/math/distributions/exponential.hpp>
#include <boost/math/distributions/gamma.hpp>
#include <boost/math/distributions/inverse_gamma.hpp>
#include <boost/math/distributions/laplace.hpp>
#include <boost/math/distributions/logistic.hpp>
#include <boost/math/distributions/negative_binomial.hpp>
#include <boost/math/distributions/weibull.hpp>
#include <boost/math/distributions/lognormal.hpp>
#include <boost/math/distributions/normal.hpp>
#include <boost/math/distributions/poisson.hpp>
#include <boost/math/distributions/students_t.hpp>
#include <boost/math/distributions/uniform.hpp>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <numeric>
#include <set>

using namespace latent;
using namespace latent::testing;

namespace {

constexpr int kDraws = 20000;

// The generated quantities of `model` at the (empty) parameter vector, drawn from `seed`.
std::vector<double> generate(const BoundModel& m, uint64_t seed, EvalContext* ctx_out = nullptr) {
  RandomEngine rng = random_engine(seed);
  EvalContext ctx;
  ctx.rng = &rng;
  std::vector<double> theta(static_cast<size_t>(m.num_unconstrained()), 0.0);
  std::vector<double> out = m.constrained_outputs(theta.data(), &ctx);
  if (ctx_out) *ctx_out = ctx;
  return out;
}

// kDraws draws of `call` (e.g. "normal_rng(1.5, 2)"), as an array in generated quantities.
std::vector<double> draws(const std::string& call, bool discrete, uint64_t seed = 1) {
  std::string type = discrete ? "int" : "real";
  auto m = make_model("generated quantities {\n  array[" + std::to_string(kDraws) + "] " + type +
                      " y;\n  for (n in 1:" + std::to_string(kDraws) + ") y[n] = " + call + ";\n}\n");
  return generate(*m, seed);
}

double mean_of(const std::vector<double>& x) { return std::accumulate(x.begin(), x.end(), 0.0) / x.size(); }
double variance_of(const std::vector<double>& x) {
  double m = mean_of(x), s = 0;
  for (double v : x) s += (v - m) * (v - m);
  return s / (x.size() - 1);
}

// Kolmogorov-Smirnov statistic of the draws against `cdf`.
double ks_statistic(std::vector<double> x, const std::function<double(double)>& cdf) {
  std::sort(x.begin(), x.end());
  double d = 0, n = static_cast<double>(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    double f = cdf(x[i]);
    d = std::max({d, (i + 1) / n - f, f - i / n});
  }
  return d;
}

// A continuous distribution: KS at the 0.1% level (critical value 1.949 / sqrt(n)),
// mean within 5 standard errors where the mean and variance exist.
template <class Dist>
void check_draws_against(const std::string& call, const Dist& dist, double mu, double var) {
  BOOST_TEST_CONTEXT(call) {
    std::vector<double> x = draws(call, false);
    BOOST_TEST(x.size() == static_cast<size_t>(kDraws));
    double d = ks_statistic(x, [&](double v) { return boost::math::cdf(dist, v); });
    BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(kDraws)), "KS statistic " << d);
    if (!std::isnan(mu)) {
      BOOST_TEST(std::fabs(mean_of(x) - mu) < 5 * std::sqrt(var / kDraws), "mean " << mean_of(x) << " vs " << mu);
      BOOST_TEST(std::fabs(variance_of(x) / var - 1) < 0.1, "variance " << variance_of(x) << " vs " << var);
    }
    // A different seed gives different draws; the same seed the same ones.
    BOOST_TEST(draws(call, false, 2) != x);
    BOOST_TEST(draws(call, false, 1) == x);
  }
}

template <class Dist>
void check_continuous(const std::string& call, const Dist& dist) {
  check_draws_against(call, dist, boost::math::mean(dist), boost::math::variance(dist));
}

// A discrete distribution: chi-square over the values with expected counts >= 5
// (the rest pooled) at the 0.1% level; mean within 5 standard errors.
template <class Dist>
void check_discrete(const std::string& call, const Dist& dist) {
  BOOST_TEST_CONTEXT(call) {
    std::vector<double> x = draws(call, true);
    std::map<int64_t, double> counts;
    for (double v : x) {
      BOOST_TEST(v == std::floor(v));
      counts[static_cast<int64_t>(v)] += 1;
    }
    double chi2 = 0, pooled_observed = 0, pooled_expected = 0;
    int bins = 0;
    double upper = boost::math::quantile(dist, 0.99999);
    for (int64_t k = 0; k <= static_cast<int64_t>(upper); ++k) {
      double expected = kDraws * boost::math::pdf(dist, static_cast<double>(k));
      double observed = counts.count(k) ? counts[k] : 0;
      if (expected < 5) {
        pooled_expected += expected;
        pooled_observed += observed;
        continue;
      }
      chi2 += (observed - expected) * (observed - expected) / expected;
      ++bins;
    }
    double rest = kDraws - std::accumulate(counts.begin(), counts.end(), 0.0, [&](double s, auto& kv) {
                    return kv.first <= static_cast<int64_t>(upper) ? s + kv.second : s;
                  });
    pooled_observed += rest;
    pooled_expected += kDraws * boost::math::cdf(boost::math::complement(dist, std::floor(upper)));
    if (pooled_expected >= 5) {
      chi2 += (pooled_observed - pooled_expected) * (pooled_observed - pooled_expected) / pooled_expected;
      ++bins;
    }
    BOOST_REQUIRE(bins >= 2);
    double critical = boost::math::quantile(boost::math::chi_squared(bins - 1), 0.999);
    BOOST_TEST(chi2 < critical, "chi-square " << chi2 << " over " << bins << " bins, critical " << critical);
    double mu = boost::math::mean(dist), var = boost::math::variance(dist);
    BOOST_TEST(std::fabs(mean_of(x) - mu) < 5 * std::sqrt(var / kDraws) + 1e-12, "mean " << mean_of(x) << " vs " << mu);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(each_distribution)

BOOST_AUTO_TEST_CASE(normal) { check_continuous("normal_rng(1.5, 2)", boost::math::normal(1.5, 2)); }
BOOST_AUTO_TEST_CASE(std_normal) { check_continuous("std_normal_rng()", boost::math::normal(0, 1)); }
BOOST_AUTO_TEST_CASE(cauchy) {
  check_draws_against("cauchy_rng(-1, 0.5)", boost::math::cauchy(-1, 0.5), NAN, NAN);  // no moments
}
BOOST_AUTO_TEST_CASE(student_t) {
  // student_t(nu, mu, sigma) = mu + sigma * t_nu
  std::vector<double> x = draws("student_t_rng(5, 2, 3)", false);
  boost::math::students_t t(5);
  double d = ks_statistic(x, [&](double v) { return boost::math::cdf(t, (v - 2) / 3); });
  BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(kDraws)), "KS statistic " << d);
  double var = 9 * 5.0 / 3.0;
  BOOST_TEST(std::fabs(mean_of(x) - 2) < 5 * std::sqrt(var / kDraws));
}
BOOST_AUTO_TEST_CASE(exponential) { check_continuous("exponential_rng(2.5)", boost::math::exponential(2.5)); }
BOOST_AUTO_TEST_CASE(gamma) {
  // Stan's gamma(alpha, beta) has inverse scale beta; Boost's gamma_distribution a scale.
  check_continuous("gamma_rng(3, 2)", boost::math::gamma_distribution<>(3, 0.5));
  check_continuous("gamma_rng(0.3, 1)", boost::math::gamma_distribution<>(0.3, 1));
}
BOOST_AUTO_TEST_CASE(inv_gamma) { check_continuous("inv_gamma_rng(5, 2)", boost::math::inverse_gamma(5, 2)); }
BOOST_AUTO_TEST_CASE(beta) {
  check_continuous("beta_rng(2, 5)", boost::math::beta_distribution<>(2, 5));
  check_continuous("beta_rng(0.5, 0.5)", boost::math::beta_distribution<>(0.5, 0.5));
}
BOOST_AUTO_TEST_CASE(lognormal) { check_continuous("lognormal_rng(0.5, 0.7)", boost::math::lognormal(0.5, 0.7)); }
BOOST_AUTO_TEST_CASE(uniform) { check_continuous("uniform_rng(-2, 3)", boost::math::uniform(-2, 3)); }
BOOST_AUTO_TEST_CASE(bernoulli) { check_discrete("bernoulli_rng(0.3)", boost::math::bernoulli(0.3)); }
BOOST_AUTO_TEST_CASE(bernoulli_logit) {
  check_discrete("bernoulli_logit_rng(-0.8)", boost::math::bernoulli(1 / (1 + std::exp(0.8))));
}
BOOST_AUTO_TEST_CASE(binomial) { check_discrete("binomial_rng(20, 0.35)", boost::math::binomial(20, 0.35)); }
BOOST_AUTO_TEST_CASE(binomial_logit) {
  check_discrete("binomial_logit_rng(12, 1.1)", boost::math::binomial(12, 1 / (1 + std::exp(-1.1))));
}
BOOST_AUTO_TEST_CASE(poisson) {
  check_discrete("poisson_rng(3.5)", boost::math::poisson(3.5));
  check_discrete("poisson_rng(250)", boost::math::poisson(250));
}
BOOST_AUTO_TEST_CASE(poisson_log) { check_discrete("poisson_log_rng(1.2)", boost::math::poisson(std::exp(1.2))); }
BOOST_AUTO_TEST_CASE(gumbel) {
  // Gumbel(mu, beta): F(x) = exp(-exp(-(x - mu) / beta)), mean mu + 0.5772 beta, variance pi^2 beta^2 / 6.
  std::vector<double> x = draws("gumbel_rng(1, 2)", false);
  double d = ks_statistic(x, [](double v) { return std::exp(-std::exp(-(v - 1) / 2)); });
  BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(kDraws)), "KS statistic " << d);
  double mu = 1 + 0.5772156649 * 2, var = M_PI * M_PI * 4 / 6;
  BOOST_TEST(std::fabs(mean_of(x) - mu) < 5 * std::sqrt(var / kDraws));
}
// Categorical outcomes 1..K with the given probabilities (chi-square over the K values).
void check_categorical(const std::string& call, const std::vector<double>& p) {
  BOOST_TEST_CONTEXT(call) {
    std::vector<double> x = draws(call, true);
    std::vector<double> counts(p.size(), 0.0);
    for (double v : x) {
      BOOST_REQUIRE(v >= 1 && v <= static_cast<double>(p.size()) && v == std::floor(v));
      counts[static_cast<size_t>(v) - 1] += 1;
    }
    double chi2 = 0;
    for (size_t k = 0; k < p.size(); ++k) chi2 += std::pow(counts[k] - kDraws * p[k], 2) / (kDraws * p[k]);
    double critical = boost::math::quantile(boost::math::chi_squared(static_cast<double>(p.size() - 1)), 0.999);
    BOOST_TEST(chi2 < critical, "chi-square " << chi2);
  }
}
BOOST_AUTO_TEST_CASE(categorical) { check_categorical("categorical_rng([0.2, 0.5, 0.3]')", {0.2, 0.5, 0.3}); }
BOOST_AUTO_TEST_CASE(categorical_logit) {
  double z = std::exp(1.0) + std::exp(-1.0) + std::exp(0.5) + 1;
  check_categorical("categorical_logit_rng([1, -1, 0.5, 0]')",
                    {std::exp(1.0) / z, std::exp(-1.0) / z, std::exp(0.5) / z, 1 / z});
}

// multinomial_rng(theta, N): every draw sums to N, and each count is Binomial(N, theta_k)
// (chi-square over its N + 1 values, cells of expected count 5 or more).
BOOST_AUTO_TEST_CASE(multinomial) {
  const double theta[3] = {0.2, 0.5, 0.3};
  const int trials = 6;
  double z = std::exp(1.0) + std::exp(-1.0) + 1;
  for (const std::string call : {"multinomial_rng([0.2, 0.5, 0.3]', 6)", "multinomial_logit_rng(g, 6)"}) {
    BOOST_TEST_CONTEXT(call) {
      bool logit = call.find("logit") != std::string::npos;
      const double p[3] = {logit ? std::exp(1.0) / z : theta[0], logit ? std::exp(-1.0) / z : theta[1],
                           logit ? 1 / z : theta[2]};
      auto m = make_model("generated quantities {\n  vector[3] g = [1, -1, 0]';\n  array[" + std::to_string(kDraws) +
                          ", 3] int y;\n  for (n in 1:" + std::to_string(kDraws) + ") y[n] = " + call + ";\n}\n");
      std::vector<double> out = generate(*m, 1);
      BOOST_REQUIRE(out.size() == 3u + 3u * kDraws);
      auto count = [&](int n, int k) { return out[3 + static_cast<size_t>(n + kDraws * k)]; };  // y.n.k
      for (int n = 0; n < kDraws; n += 101) BOOST_TEST(count(n, 0) + count(n, 1) + count(n, 2) == trials);
      for (int k = 0; k < 3; ++k) {
        std::vector<double> observed(trials + 1, 0.0);
        for (int n = 0; n < kDraws; ++n) observed[static_cast<size_t>(count(n, k))] += 1;
        boost::math::binomial_distribution<> marginal(trials, p[k]);
        double chi2 = 0;
        int cells = 0;
        for (int v = 0; v <= trials; ++v) {
          double expected = kDraws * boost::math::pdf(marginal, v);
          if (expected < 5) continue;
          chi2 += std::pow(observed[static_cast<size_t>(v)] - expected, 2) / expected;
          ++cells;
        }
        double critical = boost::math::quantile(boost::math::chi_squared(cells - 1), 0.999);
        BOOST_TEST(chi2 < critical, "component " << k + 1 << ": chi-square " << chi2);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(double_exponential) {
  check_continuous("double_exponential_rng(1, 2)", boost::math::laplace(1, 2));
}
BOOST_AUTO_TEST_CASE(logistic) { check_continuous("logistic_rng(-1, 0.5)", boost::math::logistic(-1, 0.5)); }
BOOST_AUTO_TEST_CASE(weibull) { check_continuous("weibull_rng(1.5, 2)", boost::math::weibull(1.5, 2)); }
BOOST_AUTO_TEST_CASE(neg_binomial_2) {
  // neg_binomial_2(mu, phi): Boost's negative_binomial(r = phi, p = phi / (mu + phi)).
  check_discrete("neg_binomial_2_rng(4, 2.5)", boost::math::negative_binomial(2.5, 2.5 / 6.5));
  check_discrete("neg_binomial_2_log_rng(log(4), 2.5)", boost::math::negative_binomial(2.5, 2.5 / 6.5));
}
BOOST_AUTO_TEST_CASE(dirichlet) {
  // Each component of Dirichlet(alpha) is Beta(alpha_k, sum(alpha) - alpha_k); draws sum to 1.
  auto m = make_model("generated quantities {\n  array[" + std::to_string(kDraws) +
                      "] vector[3] y;\n  for (n in 1:" + std::to_string(kDraws) +
                      ") y[n] = dirichlet_rng([2, 0.5, 3]');\n}\n");
  std::vector<double> out = generate(*m, 1);
  BOOST_REQUIRE(out.size() == 3u * kDraws);
  const double alpha[3] = {2, 0.5, 3};
  for (int k = 0; k < 3; ++k) {
    std::vector<double> x;
    for (int n = 0; n < kDraws; ++n) x.push_back(out[static_cast<size_t>(n + kDraws * k)]);  // CmdStan's order: y.n.k
    boost::math::beta_distribution<> marginal(alpha[k], 5.5 - alpha[k]);
    double d = ks_statistic(x, [&](double v) { return boost::math::cdf(marginal, v); });
    BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(kDraws)), "component " << k + 1 << ": KS statistic " << d);
  }
  for (int n = 0; n < kDraws; n += 997)
    BOOST_TEST(std::fabs(out[n] + out[n + kDraws] + out[n + 2 * kDraws] - 1) < 1e-12);
}

// multi_normal(mu, Sigma) and multi_normal_cholesky(mu, L): each marginal N(mu_k,
// sqrt(Sigma_kk)) and the sum of the components N(sum(mu), sqrt(sum(Sigma))) (which
// tests the covariance), by Kolmogorov-Smirnov.
BOOST_AUTO_TEST_CASE(multi_normal) {
  for (const char* call : {"multi_normal_rng([1, -2, 0.5]', S)", "multi_normal_cholesky_rng([1, -2, 0.5]', cholesky_decompose(S))"}) {
    BOOST_TEST_CONTEXT(call) {
      auto m = make_model("generated quantities {\n  matrix[3, 3] S = [[2, 0.6, -0.3], [0.6, 1, 0.2], [-0.3, 0.2, 0.5]];\n  array[" +
                          std::to_string(kDraws) + "] vector[3] y;\n  for (n in 1:" + std::to_string(kDraws) +
                          ") y[n] = " + call + ";\n}\n");
      std::vector<double> out = generate(*m, 3);
      BOOST_REQUIRE(out.size() == 9u + 3u * kDraws);
      const double mu[3] = {1, -2, 0.5}, var[3] = {2, 1, 0.5};
      std::vector<double> sum(kDraws, 0.0);
      for (int k = 0; k < 3; ++k) {
        std::vector<double> x;
        for (int n = 0; n < kDraws; ++n) x.push_back(out[9 + static_cast<size_t>(n + kDraws * k)]);  // y.n.k
        for (int n = 0; n < kDraws; ++n) sum[static_cast<size_t>(n)] += x[static_cast<size_t>(n)];
        boost::math::normal marginal(mu[k], std::sqrt(var[k]));
        double d = ks_statistic(x, [&](double v) { return boost::math::cdf(marginal, v); });
        BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(kDraws)), "component " << k + 1 << ": KS statistic " << d);
      }
      boost::math::normal total(-0.5, std::sqrt(2 + 1 + 0.5 + 2 * (0.6 - 0.3 + 0.2)));
      double d = ks_statistic(sum, [&](double v) { return boost::math::cdf(total, v); });
      BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(kDraws)), "sum: KS statistic " << d);
    }
  }
}

// LKJ(eta) over K x K correlation matrices: each correlation r has (r + 1) / 2 ~
// Beta(eta - 1 + K / 2, eta - 1 + K / 2) (LKJ 2009); the Cholesky factor's draws give
// unit rows, and L L' the same marginals.
BOOST_AUTO_TEST_CASE(lkj) {
  const int K = 4, draws_n = 5000;
  const double eta = 1.5;
  for (bool cholesky : {true, false}) {
    std::string call = cholesky ? "multiply_lower_tri_self_transpose(lkj_corr_cholesky_rng(4, 1.5))"
                                : "lkj_corr_rng(4, 1.5)";
    BOOST_TEST_CONTEXT(call) {
      auto m = make_model("generated quantities {\n  array[" + std::to_string(draws_n) + "] matrix[4, 4] R;\n  for (n in 1:" +
                          std::to_string(draws_n) + ") R[n] = " + call + ";\n}\n");
      std::vector<double> out = generate(*m, 5);
      BOOST_REQUIRE(out.size() == static_cast<size_t>(16 * draws_n));
      // CmdStan's order R.n.i.j: n fastest, then i, then j.
      auto at = [&](int n, int i, int j) { return out[static_cast<size_t>(n + draws_n * (i + K * j))]; };
      boost::math::beta_distribution<> marginal(eta - 1 + K / 2.0, eta - 1 + K / 2.0);
      for (auto [i, j] : {std::pair{1, 0}, std::pair{3, 0}, std::pair{2, 1}, std::pair{3, 2}}) {
        std::vector<double> x;
        for (int n = 0; n < draws_n; ++n) x.push_back((at(n, i, j) + 1) / 2);
        double d = ks_statistic(x, [&](double v) { return boost::math::cdf(marginal, v); });
        BOOST_TEST(d < 1.949 / std::sqrt(static_cast<double>(draws_n)), "r[" << i << ", " << j << "]: KS statistic " << d);
      }
      for (int n = 0; n < draws_n; n += 499) {
        for (int i = 0; i < K; ++i) BOOST_TEST(std::fabs(at(n, i, i) - 1) < 1e-12);
        BOOST_TEST(std::fabs(at(n, 2, 1) - at(n, 1, 2)) < 1e-15);
      }
    }
  }
  std::string msg = error_of([] { make_model("generated quantities { matrix[2, 2] L = lkj_corr_cholesky_rng(2, [1, 2]'); }"); });
  BOOST_TEST(contains(msg, "expected lkj_corr_cholesky_rng(int K, real eta)"), msg);
}

BOOST_AUTO_TEST_SUITE_END()

// Every distribution of the library has an _rng (Stan has none for the GLMs), and a test above.
BOOST_AUTO_TEST_CASE(every_distribution_is_tested) {
  const std::set<std::string> tested{"normal", "std_normal", "cauchy", "student_t", "exponential", "gamma",
                                     "inv_gamma", "beta", "lognormal", "uniform", "gumbel", "bernoulli",
                                     "bernoulli_logit", "binomial", "binomial_logit", "poisson", "poisson_log",
                                     "categorical", "categorical_logit", "multinomial", "multinomial_logit", "double_exponential", "logistic",
                                     "weibull", "neg_binomial_2", "neg_binomial_2_log", "dirichlet",
                                     "multi_normal", "multi_normal_cholesky", "lkj_corr", "lkj_corr_cholesky"};
  const std::set<std::string> without_rng{"bernoulli_logit_glm", "poisson_log_glm", "normal_id_glm"};
  for (const std::string& name : stdlib::distribution_names()) {
    const stdlib::DistributionEntry* d = stdlib::find_distribution(name);
    BOOST_TEST(d->has_rng == (without_rng.count(name) == 0), name);
    if (!d->has_rng) continue;
    BOOST_TEST((d->sample != nullptr || d->draw != nullptr), name << " has no sampler");
    BOOST_TEST(tested.count(name) == 1u, name << " has no test of its _rng here");
  }
}

BOOST_AUTO_TEST_CASE(vectorised_calls_return_arrays_of_independent_draws) {
  auto m = make_model(R"(
data { int N; vector[N] mu; }
generated quantities {
  array[N] real y = normal_rng(mu, 0.001);     // one draw per element, at its own location
  array[N] int k = poisson_rng(rep_array(4.0, N));
  array[N] real z = normal_rng(0, rep_vector(1, N));
}
)", R"({"N": 3, "mu": [10, 20, 30]})");
  std::vector<double> out = generate(*m, 5);
  BOOST_REQUIRE(out.size() == 9u);
  for (int i = 0; i < 3; ++i) BOOST_TEST(std::fabs(out[i] - 10 * (i + 1)) < 0.01);
  BOOST_TEST((out[6] != out[7] && out[7] != out[8]));
}

// A draw in a loop is made once, whatever uses it: each variable the loop assigns
// becomes a loop of its own in the IR, and the draw is shared, not redrawn.
BOOST_AUTO_TEST_CASE(a_draw_used_twice_in_a_loop_is_one_draw) {
  auto m = make_model(R"(
generated quantities {
  array[5] real y;
  array[5] real z;
  real total = 0;
  array[3, 4] real u;
  array[3, 4] real v;
  array[3] vector[2] p;
  array[3] real p_sum;
  for (n in 1:5) {
    y[n] = normal_rng(0, 1);
    z[n] = 2 * y[n];
    total += y[n];
  }
  for (i in 1:3) {
    for (j in 1:4) {
      u[i, j] = normal_rng(0, 1);
      v[i, j] = u[i, j] + 1;
    }
    p[i] = dirichlet_rng([1, 1]');
    p_sum[i] = sum(p[i]);
  }
}
)");
  std::vector<double> out = generate(*m, 3);
  BOOST_REQUIRE(out.size() == 5u + 5 + 1 + 12 + 12 + 6 + 3);
  double total = 0;
  for (int n = 0; n < 5; ++n) {
    BOOST_TEST(out[5 + n] == 2 * out[n]);
    total += out[n];
  }
  BOOST_TEST(std::fabs(out[10] - total) < 1e-12);
  for (int k = 0; k < 12; ++k) BOOST_TEST(out[23 + k] == out[11 + k] + 1);
  for (int i = 0; i < 3; ++i) BOOST_TEST(std::fabs(out[41 + i] - 1) < 1e-12);
  BOOST_TEST(out[11] != out[12]);
}

BOOST_AUTO_TEST_CASE(draws_differ_across_loop_iterations_and_call_sites) {
  auto m = make_model(R"(
generated quantities {
  array[4] real a;       // a symbolic loop: a draw per iteration
  array[4] real b;       // a recursion (unrolled): a draw per iteration
  real c = normal_rng(0, 1);
  real d = normal_rng(0, 1);  // the same call, another site: another draw
  for (i in 1:4) a[i] = normal_rng(0, 1);
  b[1] = 0;
  for (i in 2:4) b[i] = b[i - 1] + normal_rng(0, 1);
}
)");
  std::vector<double> out = generate(*m, 9);
  BOOST_REQUIRE(out.size() == 10u);
  std::set<double> a(out.begin(), out.begin() + 4);
  BOOST_TEST(a.size() == 4u);
  BOOST_TEST((out[5] != out[4] && out[6] != out[5] && out[7] != out[6]));
  BOOST_TEST(out[8] != out[9]);
}

BOOST_AUTO_TEST_CASE(transformed_data_draws_once_from_the_seed) {
  const std::string text = R"(
transformed data { real x = normal_rng(0, 1); }
parameters { real mu; }
model { mu ~ normal(x, 1); }
generated quantities { real seen = x; }
)";
  auto a = make_model(text), b = make_model(text);
  std::vector<double> theta{0.3};
  EvalContext ctx;
  double xa = a->constrained_outputs(theta.data(), &ctx).at(1), xb = b->constrained_outputs(theta.data(), &ctx).at(1);
  BOOST_TEST(xa == xb);  // the same seed (0)
  BOOST_TEST(a->constrained_outputs(theta.data(), &ctx).at(1) == xa);  // computed once, when the data is bound
  auto c = std::make_unique<BoundModel>(latent::driver::parse(std::make_shared<SourceFile>(SourceFile{"t.lat", text})),
                                        DataSet::from_json_string("{}", "data.json"), BoundModel::Options{nullptr, 7});
  BOOST_TEST(c->constrained_outputs(theta.data(), &ctx).at(1) != xa);
}

BOOST_AUTO_TEST_CASE(argument_checks_name_the_call) {
  // Known when the program is lowered or the data bound: an error then.
  std::string constant = error_of([] { make_model("generated quantities { real y = normal_rng(0, -1); }"); });
  BOOST_TEST(contains(constant, "normal_rng: scale parameter must be positive"), constant);
  std::string data = error_of([] {
    make_model("data { real lambda; } generated quantities { int k = poisson_rng(lambda); }", R"({"lambda": 2e9})");
  });
  BOOST_TEST(contains(data, "poisson_rng: rate parameter must be less than"), data);
  // Depending on a parameter: a failed check when the quantities are generated.
  auto m = make_model("parameters { real mu; } model { mu ~ normal(0, 1); } "
                      "generated quantities { real y = normal_rng(0, mu); }");
  RandomEngine rng = random_engine(1);
  EvalContext ctx;
  ctx.rng = &rng;
  std::vector<double> theta{-1.0};
  m->constrained_outputs(theta.data(), &ctx);
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "normal_rng: scale parameter must be positive"), ctx.failure_text());
}
