// Variational inference (runtime/inference/advi.hpp, compiler/transforms/variational.hpp):
//  1. the compiled ELBO and IWAE objectives at fixed noise: values against the same
//     objectives computed by hand from BoundModel::log_density, gradients against
//     central finite differences (mean-field and full-rank; conjugate normal, eight
//     schools, logistic regression, constrained parameters);
//  2. conjugate models with exactly Gaussian posteriors (normal mean, Bayesian linear
//     regression with known noise): ADVI against the closed-form posterior and evidence;
//  3. IWAE_K against the closed-form evidence as K grows; exact for parameter-free models;
//  4. eight schools (against a quadrature reference) and logistic regression (against an
//     importance-sampling reference built on the Laplace approximation);
//  5. reproducibility and divergence;
//  6. the command line (fit --method advi|fullrank, eval --iwae).
//
// Every Monte Carlo tolerance is derived in a comment next to it; seeds are fixed.
#define BOOST_TEST_MODULE variational
#include "tests/support/variational_fixture.hpp"

#include "runtime/optim/lbfgs.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstring>

using namespace latent;
using namespace latent::testing;

namespace {

// ---- models ------------------------------------------------------------------------------

// Normal mean with known variance; all constants kept so that the ELBO bounds log p(y).
const char* kNormalMean = R"(
data { int<lower=1> N; vector[N] y; real<lower=0> sigma; real m0; real<lower=0> s0; }
parameters { real mu; }
model {
  target += normal_lpdf(mu | m0, s0);
  target += normal_lpdf(y | mu, sigma);
}
)";

struct NormalMeanProblem {
  std::vector<double> y{2.1, -0.4, 1.7, 3.2, 0.9, 1.4, 2.8, -1.1, 0.3, 1.9};
  double sigma = 2.0, m0 = 1.0, s0 = 3.0;
  std::string json() const {
    return "{\"N\": " + std::to_string(y.size()) + ", \"y\": " + json_vector(y) + ", \"sigma\": " + json_number(sigma) +
           ", \"m0\": " + json_number(m0) + ", \"s0\": " + json_number(s0) + "}";
  }
  // posterior N(post_mean, post_sd^2)
  double precision() const { return 1 / (s0 * s0) + static_cast<double>(y.size()) / (sigma * sigma); }
  double post_mean() const {
    return (m0 / (s0 * s0) + std::accumulate(y.begin(), y.end(), 0.0) / (sigma * sigma)) / precision();
  }
  double post_sd() const { return 1 / std::sqrt(precision()); }
  // log p(y) = log N(y; m0 1, sigma^2 I + s0^2 1 1^T), by the determinant lemma and Sherman-Morrison.
  double log_evidence() const {
    double n = static_cast<double>(y.size()), rr = 0, rs = 0;
    for (double v : y) {
      rr += (v - m0) * (v - m0);
      rs += v - m0;
    }
    double s2 = sigma * sigma, t2 = s0 * s0;
    double logdet = n * std::log(s2) + std::log(1 + n * t2 / s2);
    double quad = rr / s2 - t2 * rs * rs / (s2 * (s2 + n * t2));
    return -0.5 * (n * kLog2Pi + logdet + quad);
  }
};

// Bayesian linear regression with known noise and prior beta ~ N(0, s0^2 I).
const char* kLinearRegression = R"(
data { int<lower=1> N; int<lower=1> D; matrix[N, D] X; vector[N] y; real<lower=0> sigma; real<lower=0> s0; }
parameters { vector[D] beta; }
model {
  target += normal_lpdf(beta | 0, s0);
  target += normal_lpdf(y | X * beta, sigma);
}
)";

struct LinearRegressionProblem {
  int N = 20, D = 3;
  double sigma = 0.8, s0 = 2.0;
  Mat X;
  std::vector<double> y;
  LinearRegressionProblem() : X(20, 3), y(20) {
    // Correlated columns (corr(x1, x2) = 0.8), so that the posterior is correlated and
    // mean-field differs from full-rank.
    std::mt19937_64 rng(20240611);
    std::normal_distribution<double> normal;
    std::vector<double> beta{1.0, -0.5, 0.25};
    for (int i = 0; i < N; ++i) {
      double a = normal(rng), b = normal(rng), c = normal(rng);
      X(i, 0) = a;
      X(i, 1) = 0.8 * a + 0.6 * b;
      X(i, 2) = c;
      y[i] = X(i, 0) * beta[0] + X(i, 1) * beta[1] + X(i, 2) * beta[2] + sigma * normal(rng);
    }
  }
  std::string json() const {
    return "{\"N\": " + std::to_string(N) + ", \"D\": " + std::to_string(D) + ", \"X\": " + json_matrix(X) +
           ", \"y\": " + json_vector(y) + ", \"sigma\": " + json_number(sigma) + ", \"s0\": " + json_number(s0) + "}";
  }
  // Posterior precision I/s0^2 + X^T X/sigma^2, covariance, mean S X^T y / sigma^2.
  Mat precision() const {
    return plus(scaled(Mat::identity(D), 1 / (s0 * s0)), scaled(matmul(transpose(X), X), 1 / (sigma * sigma)));
  }
  Mat covariance() const { return spd_inverse(precision()); }
  std::vector<double> mean() const {
    std::vector<double> xty = matvec(transpose(X), y);
    for (double& v : xty) v /= sigma * sigma;
    return matvec(covariance(), xty);
  }
  // y ~ N(0, sigma^2 I + s0^2 X X^T): an N x N Gaussian, independent of the posterior formulas.
  double log_evidence() const {
    Mat C = plus(scaled(Mat::identity(N), sigma * sigma), scaled(matmul(X, transpose(X)), s0 * s0));
    return mvn_logpdf(y, std::vector<double>(static_cast<size_t>(N), 0.0), C);
  }
};

// Constrained parameters: lower bound, interval and simplex (n = 1 + 1 + 2 unconstrained).
const char* kConstrained = R"(
data { int<lower=1> N; vector[N] y; vector<lower=0>[3] alpha; }
parameters { real<lower=0> sigma; real<lower=-1, upper=2> r; simplex[3] s; }
model {
  sigma ~ gamma(2, 2);
  r ~ normal(0.5, 1);
  target += sum((alpha - 1) .* log(s));
  y ~ normal(r + s[1] - s[3], sigma);
}
)";
const char* kConstrainedData = R"({"N": 5, "y": [0.3, 1.2, -0.4, 0.8, 0.5], "alpha": [2, 3, 4]})";

}  // namespace

// =========================================================================================
// 1. Objectives at fixed noise: values by hand, gradients by finite differences
// =========================================================================================

namespace {

// A random phi: mu uniform in (-mu_range, mu_range); mean-field log scales in (-1.5, 0);
// full-rank diagonal in (0.3, 1) with off-diagonal entries in (-0.3, 0.3).
std::vector<double> random_phi(std::mt19937_64& rng, Family family, int n, double mu_range) {
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> mu(static_cast<size_t>(n));
  for (double& x : mu) x = mu_range * u(rng);
  if (family == Family::MeanField) {
    std::vector<double> phi = mu;
    for (int i = 0; i < n; ++i) phi.push_back(-0.75 + 0.75 * u(rng));
    return phi;
  }
  Mat L(n, n);
  for (int j = 0; j < n; ++j)
    for (int i = j; i < n; ++i) L(i, j) = i == j ? 0.65 + 0.35 * u(rng) : 0.3 * u(rng);
  return fullrank_phi(mu, L);
}

// The compiled ELBO (S = 3 draws) and IWAE (K = 4) at fixed noise: value equal to the
// hand computation from log_density (to rounding: relative 1e-10), gradient equal to
// 4th-order central differences (step 1e-5: truncation O(h^4) ~ 1e-20 and rounding
// ~ 1e-16 |f| / 1e-5 <= 1e-8 for |f| ~ 1e3, so 1e-6 relative to max(1, |fd|) is loose).
void check_objectives(const BoundModel& m, const std::string& what, double mu_range, uint64_t seed) {
  int n = static_cast<int>(m.num_unconstrained());
  std::mt19937_64 rng(seed);
  for (Family family : {Family::MeanField, Family::FullRank}) {
    for (bool iwae : {false, true}) {
      int draws = iwae ? 4 : 3;
      CompiledObjective o(m, family, draws, iwae);
      BOOST_TEST(o.num_phi() == num_variational_parameters(family, n));
      BOOST_TEST(o.num_phi() == (family == Family::MeanField ? 2 * n : n + n * (n + 1) / 2));
      for (int trial = 0; trial < 2; ++trial) {
        std::vector<double> phi = random_phi(rng, family, n, mu_range);
        std::vector<double> noise = standard_normal(rng, static_cast<size_t>(n * draws));
        std::vector<double> grad(phi.size(), NAN);
        double value = o.evaluate_at(phi, noise, grad.data());
        double by_hand = iwae ? iwae_by_hand(m, family, phi, noise, draws) : elbo_by_hand(m, family, phi, noise, draws);
        BOOST_TEST_CONTEXT(what << " " << family_name(family) << (iwae ? " IWAE" : " ELBO") << " trial " << trial
                                << " phi = " << vec_str(phi)) {
          BOOST_TEST(std::isfinite(value));
          BOOST_TEST(close_rel(value, by_hand, 1e-10), "value " << value << " vs by hand " << by_hand);
          BOOST_TEST(o.evaluate_at(phi, noise, nullptr) == value);  // without the gradient: same value
          std::vector<double> fd = fd_objective(o, phi, noise);
          for (size_t i = 0; i < phi.size(); ++i)
            BOOST_TEST(close(grad[i], fd[i], 1e-6),
                       "d/dphi[" << i << "]: gradient " << grad[i] << " vs finite differences " << fd[i]);
        }
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(objectives_at_fixed_noise)

BOOST_AUTO_TEST_CASE(conjugate_normal) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  check_objectives(*m, "normal mean", 2.0, 1);
  LinearRegressionProblem lr;
  auto m2 = make_model(kLinearRegression, lr.json());
  check_objectives(*m2, "linear regression", 1.0, 2);
}

BOOST_AUTO_TEST_CASE(eight_schools) { check_objectives(*load_example("eight_schools"), "eight schools", 1.0, 3); }

BOOST_AUTO_TEST_CASE(logistic_regression) {
  check_objectives(*load_example("logistic"), "logistic regression", 0.5, 4);
}

BOOST_AUTO_TEST_CASE(constrained_parameters) {
  auto m = make_model(kConstrained, kConstrainedData);
  BOOST_TEST(m->num_unconstrained() == 4);
  check_objectives(*m, "constrained", 1.0, 5);
}

// The noise is an input: the same noise gives the same value; evaluate() draws fresh noise
// from the generator (so two calls differ) and is reproducible from the seed.
BOOST_AUTO_TEST_CASE(noise_handling) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  CompiledObjective o(*m, Family::MeanField, 5, false);
  std::vector<double> phi{0.5, -0.3};
  std::mt19937_64 a(7), b(7);
  double v1 = o.evaluate(phi, a, nullptr), v2 = o.evaluate(phi, a, nullptr), w1 = o.evaluate(phi, b, nullptr);
  BOOST_TEST(v1 != v2);
  BOOST_TEST(v1 == w1);
  // Wrong sizes are rejected, not read out of bounds.
  std::vector<double> noise(5, 0.0);
  BOOST_CHECK_THROW(o.evaluate_at({0.5}, noise, nullptr), std::invalid_argument);
  BOOST_CHECK_THROW(o.evaluate_at(phi, std::vector<double>(4, 0.0), nullptr), std::invalid_argument);
  // At zero noise the ELBO is log p(mu) + H = log p(mu) + omega + (1 + log 2 pi) / 2.
  double at_zero = o.evaluate_at(phi, noise, nullptr);
  BOOST_TEST(close_rel(at_zero, lp(*m, {0.5}) - 0.3 + 0.5 * (1 + kLog2Pi), 1e-12));
}

BOOST_AUTO_TEST_SUITE_END()
