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
//  5. the driver: optimisers, IWAE training, convergence, reproducibility, divergence;
//  6. the command line (fit --method advi|fullrank, eval --iwae).
//
// Every Monte Carlo tolerance is derived in a comment next to it; seeds are fixed.
#define BOOST_TEST_MODULE variational
#include "tests/support/variational_fixture.hpp"
#include "tests/support/csv_file.hpp"

#include "compiler/autodiff/reverse.hpp"
#include "compiler/transforms/variational.hpp"
#include "runtime/optim/lbfgs.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <thread>

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

// The full-rank factor is built as loops over its packed lower triangle, not as n^2
// scalar nodes (101 parameters took 25 s to compile that way): the objective and its
// gradient have as many nodes for n = 101 as for n = 3.
BOOST_AUTO_TEST_CASE(full_rank_objective_size_does_not_grow_with_n_squared) {
  auto nodes_for = [](int64_t n) {
    ir::Graph g;
    ir::NodeP theta = g.input(0, 0, {n});
    ir::NodeP log_density = g.mul(g.constant(-0.5), g.sum(g.mul(theta, theta)));
    VariationalObjective o = build_elbo(g, log_density, n, Family::FullRank, 1);
    ir::differentiate(g, o.value);
    return g.node_count();
  };
  size_t small = nodes_for(3), large = nodes_for(101);
  // (a few constants differ: n and its neighbours are shared with other constants at n = 3)
  BOOST_TEST(large <= small + 8, "nodes: " << small << " for n = 3, " << large << " for n = 101");
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

// GaussianApproximation: mean() is mu; draws have mean mu and covariance L L^T (20000 draws:
// each sample mean within 5 standard errors, each sample covariance entry within 5 of its
// standard errors, sqrt((S_ii S_jj + S_ij^2) / draws)); log_q is log N(z; mu, L L^T) + n/2 log 2 pi.
BOOST_AUTO_TEST_CASE(gaussian_approximation) {
  Mat L(2, 2);
  L(0, 0) = 0.7;
  L(1, 0) = -0.4;
  L(1, 1) = 1.3;
  std::vector<double> mu{1.5, -2.0};
  for (Family family : {Family::FullRank, Family::MeanField}) {
    std::vector<double> phi = family == Family::FullRank ? fullrank_phi(mu, L) : meanfield_phi(mu, {0.7, 1.3});
    Mat S = q_covariance(family, phi, 2);
    GaussianApproximation q(family, phi, 2);
    BOOST_TEST(q.mean() == mu);
    BOOST_TEST(q.phi() == phi);
    std::mt19937_64 rng(17);
    const int draws = 20000;
    std::vector<double> sum(2, 0.0), sum2(4, 0.0);
    for (int d = 0; d < draws; ++d) {
      double log_q = NAN;
      std::vector<double> z = q.draw(rng, &log_q);
      if (d < 5) BOOST_TEST(close_rel(log_q, mvn_logpdf(z, mu, S) + kLog2Pi, 1e-10));
      for (int i = 0; i < 2; ++i) {
        sum[i] += z[i];
        for (int j = 0; j < 2; ++j) sum2[i * 2 + j] += (z[i] - mu[i]) * (z[j] - mu[j]);
      }
    }
    for (int i = 0; i < 2; ++i) {
      BOOST_TEST(std::fabs(sum[i] / draws - mu[i]) < 5 * std::sqrt(S(i, i) / draws));
      for (int j = 0; j < 2; ++j)
        BOOST_TEST(std::fabs(sum2[i * 2 + j] / draws - S(i, j)) < 5 * std::sqrt((S(i, i) * S(j, j) + S(i, j) * S(i, j)) / draws),
                   family_name(family) << " cov(" << i << ", " << j << ")");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// =========================================================================================
// 2. Conjugate models: exactly Gaussian posteriors, closed-form evidence
// =========================================================================================
//
// Settings for a precise fit. ADVI as implemented is Stan's: the step eta / sqrt(t) *
// g / (1 + sqrt(s_t)) decays, so the final iterate's jitter shrinks with t. We fix eta = 0.3
// (no adaptation), use S = 100 draws per gradient step and run exactly 6000 iterations
// (tol_rel_obj = 0: no early stop). Measured over seeds 1..8 on the linear regression below
// (full-rank): max |mu - m| = 0.031 posterior sd (rms 0.017), max entry error of L L^T
// relative to sqrt(S_ii S_jj) = 0.040 (rms 0.030), KL(q || p) <= 2.5e-3; mean-field: max
// mean error 0.029 sd. The tolerances below are about 5 times those rms values; they are
// limited by the iterate's jitter, not by any bias (the exact optimum is the posterior).
// With these settings every assertion below held for seeds 1..12.

namespace {

AdviOptions precise_options(Family family, uint64_t seed, int n) {
  AdviOptions o;
  o.family = family;
  o.optimizer = StochasticOptimizer::StanAdaptive;
  o.adapt = false;
  o.eta = 0.3;
  o.grad_samples = 100;
  o.elbo_samples = 1000;
  o.eval_elbo = 1000;
  o.max_iterations = 6000;
  o.tol_rel_obj = 0;
  o.seed = seed;
  o.initial_mean.assign(static_cast<size_t>(n), 0.0);
  return o;
}

struct GaussianTarget {
  std::vector<double> mean;
  Mat cov;
  double log_evidence;
};

// Checks a fit against an exactly Gaussian posterior:
// - the mean within 0.1 posterior sd per coordinate (5 x the measured rms 0.017-0.02);
// - full-rank: every entry of L L^T within 0.15 sqrt(S_ii S_jj) (5 x rms 0.03), and
//   KL(q || p) < 0.015 (6 x the measured maximum 2.5e-3);
// - mean-field: sd_i = 1/sqrt(Lambda_ii) (the mean-field optimum for a Gaussian target)
//   within 10% (the scales' jitter is smaller than the full-rank factor's, measured < 3%);
// - the ELBO: for a Gaussian target ELBO(q) = log p(y) - KL(q || p) exactly. The entropy is
//   in closed form, so the estimator's per-draw variance is that of log p(z | y) under q:
//   for z - m = x + d, x ~ N(0, C), it is tr((Lambda C)^2)/2 + d^T Lambda C Lambda d
//   (Lambda the posterior precision; n/2 at q = p). Tolerance 5 sd for the estimate with
//   100000 draws, and for the last in-run estimate (elbo_samples = 1000 draws at the final
//   iterate: 6000 is a multiple of eval_elbo).
void check_gaussian_fit(const BoundModel& m, const AdviResult& r, Family family, const GaussianTarget& p,
                        const std::string& what) {
  int n = static_cast<int>(p.mean.size());
  BOOST_TEST_CONTEXT(what << " " << family_name(family) << ": phi = " << vec_str(r.phi)) {
    BOOST_TEST(r.iterations == 6000);
    BOOST_TEST(r.phi.size() == static_cast<size_t>(num_variational_parameters(family, n)));
    Mat C = q_covariance(family, r.phi, n);
    for (int i = 0; i < n; ++i) {
      double sd = std::sqrt(p.cov(i, i));
      BOOST_TEST(std::fabs(r.phi[i] - p.mean[i]) < 0.1 * sd,
                 "mean[" << i << "] = " << r.phi[i] << ", exact " << p.mean[i] << " (posterior sd " << sd << ")");
    }
    if (family == Family::FullRank) {
      for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j)
          BOOST_TEST(std::fabs(C(i, j) - p.cov(i, j)) < 0.15 * std::sqrt(p.cov(i, i) * p.cov(j, j)),
                     "cov(" << i << ", " << j << ") = " << C(i, j) << ", exact " << p.cov(i, j));
      double kl = gaussian_kl(q_mean(r.phi, n), C, p.mean, p.cov);
      BOOST_TEST(kl < 0.015, "KL(q || p) = " << kl);
    } else {
      Mat precision = spd_inverse(p.cov);
      for (int i = 0; i < n; ++i) {
        double expected = 1 / std::sqrt(precision(i, i));
        BOOST_TEST(std::fabs(std::sqrt(C(i, i)) / expected - 1) < 0.1,
                   "sd[" << i << "] = " << std::sqrt(C(i, i)) << ", mean-field optimum " << expected);
      }
    }
    double exact_elbo = p.log_evidence - gaussian_kl(q_mean(r.phi, n), C, p.mean, p.cov);
    double v = elbo_draw_variance(q_mean(r.phi, n), C, p.mean, p.cov);
    double estimate = estimate_elbo(m, family, r.phi, 100000, 99);
    BOOST_TEST(std::fabs(estimate - exact_elbo) < 5 * std::sqrt(v / 100000),
               "ELBO estimate " << estimate << " vs exact " << exact_elbo << " (log p(y) = " << p.log_evidence
                                << ", per-draw variance " << v << ")");
    BOOST_TEST(std::fabs(r.elbo - exact_elbo) < 5 * std::sqrt(v / 1000),
               "last in-run ELBO " << r.elbo << " vs exact " << exact_elbo);
    if (family == Family::FullRank)  // the converged ELBO is the log evidence (gap KL < 0.015)
      BOOST_TEST(std::fabs(estimate - p.log_evidence) < 0.015 + 5 * std::sqrt(v / 100000),
                 "ELBO " << estimate << " vs log evidence " << p.log_evidence);
  }
}

GaussianTarget normal_mean_target(const NormalMeanProblem& p) {
  Mat c(1, 1);
  c(0, 0) = p.post_sd() * p.post_sd();
  return {{p.post_mean()}, c, p.log_evidence()};
}

GaussianTarget linear_regression_target(const LinearRegressionProblem& p) {
  return {p.mean(), p.covariance(), p.log_evidence()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(conjugate)

// The closed forms themselves, against the log density: for a Gaussian posterior,
// log p(y) = log p(y, z) - log p(z | y) at every z (the model keeps all constants).
BOOST_AUTO_TEST_CASE(closed_forms_agree_with_the_model) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  for (double z : {-1.0, 0.5, 2.0}) {
    double log_post = -0.5 * (kLog2Pi + 2 * std::log(p.post_sd()) + std::pow((z - p.post_mean()) / p.post_sd(), 2));
    BOOST_TEST(close_rel(lp(*m, {z}) - log_post, p.log_evidence(), 1e-12));
  }
  LinearRegressionProblem lr;
  auto m2 = make_model(kLinearRegression, lr.json());
  for (std::vector<double> z : {std::vector<double>{0, 0, 0}, std::vector<double>{1, -0.5, 0.3}}) {
    double log_post = mvn_logpdf(z, lr.mean(), lr.covariance());
    BOOST_TEST(close_rel(lp(*m2, z) - log_post, lr.log_evidence(), 1e-10));
  }
}

BOOST_AUTO_TEST_CASE(normal_mean_known_variance) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  for (Family family : {Family::FullRank, Family::MeanField}) {
    AdviResult r = fit_advi(*m, precise_options(family, 1, 1));
    check_gaussian_fit(*m, r, family, normal_mean_target(p), "normal mean");
  }
}

BOOST_AUTO_TEST_CASE(linear_regression_known_noise) {
  LinearRegressionProblem lr;
  auto m = make_model(kLinearRegression, lr.json());
  GaussianTarget target = linear_regression_target(lr);
  for (Family family : {Family::FullRank, Family::MeanField}) {
    AdviResult r = fit_advi(*m, precise_options(family, 1, 3));
    check_gaussian_fit(*m, r, family, target, "linear regression");
  }
  // The mean-field optimum's gap is known in closed form: KL = (sum log Lambda_ii - log det Lambda) / 2,
  // which the correlated design makes large; the fitted ELBO is below log p(y) by about that much.
  Mat precision = lr.precision();
  double gap = -chol_logdet(cholesky(precision));
  for (int i = 0; i < 3; ++i) gap += std::log(precision(i, i));
  gap *= 0.5;
  BOOST_TEST(gap > 0.5);
  AdviResult r = fit_advi(*m, precise_options(Family::MeanField, 2, 3));
  double estimate = estimate_elbo(*m, Family::MeanField, r.phi, 100000, 7);
  // 5 sd of the estimate plus the fit's excess KL over the mean-field optimum (second order in
  // the jitter: < 0.01 for the measured 3% scale and 0.03 sd mean errors).
  double v = elbo_draw_variance(q_mean(r.phi, 3), q_covariance(Family::MeanField, r.phi, 3), lr.mean(), lr.covariance());
  BOOST_TEST(std::fabs(estimate - (lr.log_evidence() - gap)) < 5 * std::sqrt(v / 100000) + 0.01,
             "mean-field ELBO " << estimate << " vs log p(y) - KL* = " << lr.log_evidence() - gap);
}

// Stan's defaults (1 gradient draw, adapted eta, stop at 1% relative ELBO change) are much
// noisier: over seeds 1..10 mean-field stopped after 200-1500 iterations with mean errors up
// to 0.47 posterior sd (rms 0.25). Tolerance 1 sd (4 rms).
BOOST_AUTO_TEST_CASE(stan_defaults_are_close) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  AdviOptions o;
  o.seed = 1;
  AdviResult r = fit_advi(*m, o);
  BOOST_TEST(r.converged);
  BOOST_TEST(std::fabs(r.phi[0] - p.post_mean()) < p.post_sd(), "mu " << r.phi[0] << " vs " << p.post_mean());
  BOOST_TEST(std::fabs(r.phi[1] - std::log(p.post_sd())) < 0.5);
}

BOOST_AUTO_TEST_SUITE_END()

// =========================================================================================
// 3. IWAE_K against closed-form evidence
// =========================================================================================
//
// q is the exact posterior, whitened-shifted by delta = 0.5 and widened by r = 1.5 in every
// whitened coordinate: u = chol(S)^{-1} (z - m) ~ N(0, I) under p and N(delta 1, r^2 I) under
// q. Then, per coordinate (w = p(z | y) / q(z), so the weight is p(y) w):
//   KL(q || p)      = (r^2 + delta^2 - 1 - 2 log r) / 2
//   E_q[w^2] = int p^2/q = r sqrt(1 / (2a)) exp(b^2/(4a) + c),  a = 1 - 1/(2r^2), b = -delta/r^2,
//                                                              c = delta^2/(2 r^2)
//   E_q[w^3] = int p^3/q^2 = r^2 sqrt(1 / a3) exp(b3^2/(4 a3) + c3), a3 = 3/2 - 1/r^2,
//                                                              b3 = -2 delta/r^2, c3 = delta^2/r^2
// and over d coordinates the moments multiply. With nu = E[w^2] - 1 and mu3 = E[(w - 1)^3],
//   E[IWAE_1] = log p(y) - d KL                                          (exact)
//   E[IWAE_K] = log p(y) - nu/(2K) + (mu3/3 - 3 nu^2/4)/K^2 + O(K^-3)    (expansion of
//               E log(1 + mean of K centred weights))
// and E[IWAE_K] is non-decreasing in K (Burda et al., 2016).

namespace {

struct OverdispersedQ {
  double delta = 0.5, r = 1.5;
  int d = 1;
  double kl() const { return d * 0.5 * (r * r + delta * delta - 1 - 2 * std::log(r)); }
  double w2() const {
    double a = 1 - 1 / (2 * r * r), b = -delta / (r * r), c = delta * delta / (2 * r * r);
    return std::pow(r * std::sqrt(1 / (2 * a)) * std::exp(b * b / (4 * a) + c), d);
  }
  double w3() const {
    double a = 1.5 - 1 / (r * r), b = -2 * delta / (r * r), c = delta * delta / (r * r);
    return std::pow(r * r * std::sqrt(1 / a) * std::exp(b * b / (4 * a) + c), d);
  }
  double nu() const { return w2() - 1; }
  double mu3() const { return w3() - 3 * w2() + 2; }
  double expected_iwae_gap(int k) const {  // E[IWAE_K] - log p(y), K >= 16
    return -nu() / (2.0 * k) + (mu3() / 3 - 0.75 * nu() * nu()) / (static_cast<double>(k) * k);
  }
  // Full-rank phi for a posterior N(m, S).
  std::vector<double> phi(const std::vector<double>& m, const Mat& S) const {
    Mat Lc = cholesky(S);
    std::vector<double> shift = matvec(Lc, std::vector<double>(m.size(), delta));
    std::vector<double> mu(m);
    for (size_t i = 0; i < m.size(); ++i) mu[i] += shift[i];
    return fullrank_phi(mu, scaled(Lc, r));
  }
};

// IWAE_K replicated `total / K` times (independent noise), for each K.
std::vector<MeanSe> iwae_curve(const BoundModel& m, Family family, const std::vector<double>& phi,
                               const std::vector<int>& ks, int total, uint64_t seed) {
  std::vector<MeanSe> out;
  std::mt19937_64 rng(seed);
  for (int k : ks) {
    CompiledObjective o(m, family, k, true);
    std::vector<double> values(static_cast<size_t>(total / k));
    for (double& v : values) v = o.evaluate(phi, rng, nullptr);
    out.push_back(mean_se(values));
  }
  return out;
}

// The whole curve against the closed forms above; `strict` K values must increase by more
// than 4 standard errors of the difference (the predicted steps are >= 5 of them there).
void check_iwae_curve(const std::vector<MeanSe>& c, const std::vector<int>& ks, const OverdispersedQ& q,
                      double log_p, int strict, int predicted_from, double residual) {
  for (size_t i = 0; i < ks.size(); ++i) {
    BOOST_TEST_MESSAGE("IWAE_" << ks[i] << " - log p(y) = " << c[i].mean - log_p << " +- " << c[i].se
                               << " (expected " << (ks[i] == 1 ? -q.kl() : q.expected_iwae_gap(ks[i])) << ")");
    BOOST_TEST_CONTEXT("K = " << ks[i] << ": mean IWAE " << c[i].mean << " +- " << c[i].se << " over " << c[i].count
                              << " replicates; log p(y) = " << log_p) {
      // A lower bound in expectation.
      BOOST_TEST(c[i].mean < log_p + 4 * c[i].se);
      if (ks[i] == 1) BOOST_TEST(std::fabs(c[i].mean - (log_p - q.kl())) < 4 * c[i].se, "KL = " << q.kl());
      if (ks[i] >= predicted_from)
        BOOST_TEST(std::fabs(c[i].mean - (log_p + q.expected_iwae_gap(ks[i]))) < 4 * c[i].se + residual,
                   "expected gap " << q.expected_iwae_gap(ks[i]));
      if (i > 0) {
        double diff = c[i].mean - c[i - 1].mean, se = std::sqrt(c[i].se * c[i].se + c[i - 1].se * c[i - 1].se);
        if (static_cast<int>(i) < strict)
          BOOST_TEST(diff > 4 * se, "increase over K = " << ks[i - 1] << ": " << diff << " (se " << se << ")");
        else
          BOOST_TEST(diff > -4 * se, "change over K = " << ks[i - 1] << ": " << diff << " (se " << se << ")");
      }
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(iwae)

// At q = p every importance weight equals p(y): IWAE_K = log p(y) for every K and every
// noise, to rounding. This pins the constants of log q (including -n/2 log 2 pi).
BOOST_AUTO_TEST_CASE(exact_at_the_posterior) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  LinearRegressionProblem lr;
  auto m2 = make_model(kLinearRegression, lr.json());
  std::vector<double> phi1 = meanfield_phi({p.post_mean()}, {p.post_sd()});
  std::vector<double> phi3 = fullrank_phi(lr.mean(), cholesky(lr.covariance()));
  for (int k : {1, 7, 1000}) {
    BOOST_TEST(close_rel(estimate_iwae(*m, Family::MeanField, phi1, k, 3), p.log_evidence(), 1e-12));
    BOOST_TEST(close_rel(estimate_iwae(*m, Family::FullRank, {p.post_mean(), p.post_sd()}, k, 3), p.log_evidence(), 1e-12));
    BOOST_TEST(close_rel(estimate_iwae(*m2, Family::FullRank, phi3, k, 4), lr.log_evidence(), 1e-12));
  }
}

// 1-d: normal mean. 2^18 draws per K: the standard error of the mean IWAE_K is
// about sqrt(nu / 2^18) = 0.0012 for large K (sqrt(Var log w / 2^18) = 0.0023 at K = 1), so
// the predicted steps 1 -> 4 -> 16 -> 64 (0.30, 0.034, 0.0085) exceed 4 standard errors.
// The O(K^-3) residual of the expansion is below 1e-3 from K = 16 (the K^-2 term is 8e-4 there).
BOOST_AUTO_TEST_CASE(increases_towards_the_evidence_1d) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  OverdispersedQ q;
  Mat S(1, 1);
  S(0, 0) = p.post_sd() * p.post_sd();
  std::vector<double> phi = q.phi({p.post_mean()}, S);
  std::vector<int> ks{1, 4, 16, 64, 256, 1024};
  std::vector<MeanSe> c = iwae_curve(*m, Family::FullRank, phi, ks, 1 << 18, 11);
  check_iwae_curve(c, ks, q, p.log_evidence(), 4, 16, 1e-3);
  // The same q as a mean-field phi gives the same estimates (same noise, same draws).
  std::vector<double> mf = meanfield_phi({phi[0]}, {phi[1]});
  BOOST_TEST(close_rel(estimate_iwae(*m, Family::MeanField, mf, 50, 5), estimate_iwae(*m, Family::FullRank, phi, 50, 5), 1e-12));
  // One large-K estimate, as `latent eval --iwae` computes it: sd sqrt(nu/K) = 0.0014 at
  // K = 2e5, bias nu/(2K) ~ 1e-6; tolerance 5 sd.
  double big = estimate_iwae(*m, Family::FullRank, phi, 200000, 12);
  BOOST_TEST(std::fabs(big - p.log_evidence()) < 5 * std::sqrt(q.nu() / 200000), "IWAE " << big << " vs " << p.log_evidence());
}

// 3-d: linear regression. nu = 1.3655^3 - 1 = 1.55, KL = 1.03; 2^16 draws per K (standard
// errors 0.008 at K = 1, 0.005 for large K); the steps 1 -> 4 -> 16 (~0.8, 0.1) are strict.
// From K = 64 the expansion's K^-2 term is 4e-4 and the residual below 2e-3.
BOOST_AUTO_TEST_CASE(increases_towards_the_evidence_3d) {
  LinearRegressionProblem lr;
  auto m = make_model(kLinearRegression, lr.json());
  OverdispersedQ q;
  q.d = 3;
  std::vector<double> phi = q.phi(lr.mean(), lr.covariance());
  std::vector<int> ks{1, 4, 16, 64, 256, 1024};
  std::vector<MeanSe> c = iwae_curve(*m, Family::FullRank, phi, ks, 1 << 16, 13);
  check_iwae_curve(c, ks, q, lr.log_evidence(), 3, 64, 2e-3);
  double big = estimate_iwae(*m, Family::FullRank, phi, 200000, 14);
  BOOST_TEST(std::fabs(big - lr.log_evidence()) < 5 * std::sqrt(q.nu() / 200000), "IWAE " << big << " vs " << lr.log_evidence());
}

// No parameters: nothing to integrate out; the "bound" is the log density itself.
BOOST_AUTO_TEST_CASE(exact_without_parameters) {
  auto m = make_model("data { int N; vector[N] y; } model { target += normal_lpdf(y | 1.5, 2); }",
                      R"({"N": 3, "y": [0.5, 2.0, 4.0]})");
  double expected = 0;
  for (double y : {0.5, 2.0, 4.0}) expected += -0.5 * kLog2Pi - std::log(2.0) - 0.5 * std::pow((y - 1.5) / 2, 2);
  BOOST_TEST(m->num_unconstrained() == 0);
  BOOST_TEST(close_rel(estimate_iwae(*m, Family::MeanField, {}, 100, 1), expected, 1e-12));
  BOOST_TEST(contains(user_error([&] { fit_advi(*m, AdviOptions{}); }), "no parameters"));
}

BOOST_AUTO_TEST_SUITE_END()

// =========================================================================================
// 4. Eight schools and logistic regression against long-run references
// =========================================================================================

namespace {

// Posterior means and sds of mu and theta[1..8] for eight schools (mu ~ N(0, 5), tau ~
// half-Cauchy(0, 5), theta_j ~ N(mu, tau), y_j ~ N(theta_j, sigma_j); the non-centred
// example has the same posterior), by quadrature over tau, conditioning on everything else in
// closed form (BDA3 5.4 with a normal prior on mu):
//   given tau:  y_j ~ N(mu, v_j = sigma_j^2 + tau^2), so mu | tau, y ~ N(mhat, 1/P) with
//               P = 1/25 + sum 1/v_j, mhat = sum(y_j/v_j) / P, and
//               p(y | tau) = prod N(y_j; mhat, v_j) N(mhat; 0, 5) / N(mhat; mhat, 1/P);
//               theta_j | mu, tau, y ~ N(a_j + b_j mu, 1/Q_j), Q_j = 1/sigma_j^2 + 1/tau^2,
//               a_j = y_j/(sigma_j^2 Q_j), b_j = 1/(tau^2 Q_j).
//   tau = 5 tan(pi u / 2) maps u ~ U(0, 1) to the half-Cauchy prior, so p(u | y) is
//   proportional to p(y | tau(u)): a smooth integrand on (0, 1), midpoint rule with 20000
//   points (the result is unchanged to 1e-6 with 5000).
struct Moments {
  std::vector<double> mean, sd;  // mu, theta[1..8] (and tau last for the quadrature reference)
};

Moments eight_schools_reference() {
  const double y[8] = {28, 8, -3, 7, -1, 1, 18, 12}, s[8] = {15, 10, 16, 11, 9, 11, 10, 18};
  const int points = 20000;
  std::vector<double> logw(points), m1[10], m2[10];
  for (int k = 0; k < 10; ++k) {
    m1[k].resize(points);
    m2[k].resize(points);
  }
  auto log_normal = [](double x, double mean, double var) {
    return -0.5 * (kLog2Pi + std::log(var) + (x - mean) * (x - mean) / var);
  };
  const double pi = 3.14159265358979323846;
  for (int i = 0; i < points; ++i) {
    double u = (i + 0.5) / points, tau = 5 * std::tan(pi * u / 2), t2 = tau * tau;
    double P = 1 / 25.0, num = 0;
    for (int j = 0; j < 8; ++j) {
      P += 1 / (s[j] * s[j] + t2);
      num += y[j] / (s[j] * s[j] + t2);
    }
    double mhat = num / P;
    double lw = log_normal(mhat, 0, 25) - log_normal(mhat, mhat, 1 / P);
    for (int j = 0; j < 8; ++j) lw += log_normal(y[j], mhat, s[j] * s[j] + t2);
    logw[i] = lw;
    m1[0][i] = mhat;
    m2[0][i] = 1 / P + mhat * mhat;
    for (int j = 0; j < 8; ++j) {
      double Q = 1 / (s[j] * s[j]) + 1 / t2, a = y[j] / (s[j] * s[j] * Q), b = 1 / (t2 * Q);
      double mean = a + b * mhat, var = 1 / Q + b * b / P;
      m1[j + 1][i] = mean;
      m2[j + 1][i] = var + mean * mean;
    }
    m1[9][i] = tau;
    m2[9][i] = t2;
  }
  double mx = *std::max_element(logw.begin(), logw.end()), total = 0;
  for (double lw : logw) total += std::exp(lw - mx);
  Moments r;
  for (int k = 0; k < 10; ++k) {
    double e1 = 0, e2 = 0;
    for (int i = 0; i < points; ++i) {
      double w = std::exp(logw[i] - mx) / total;
      e1 += w * m1[k][i];
      e2 += w * m2[k][i];
    }
    r.mean.push_back(e1);
    r.sd.push_back(std::sqrt(e2 - e1 * e1));
  }
  return r;
}

// Means (and sds) of the named output columns under the approximation, from `draws` draws.
Moments approximation_moments(const BoundModel& m, Family family, const std::vector<double>& phi,
                              const std::vector<std::string>& names, int draws, uint64_t seed) {
  GaussianApproximation q(family, phi, m.num_unconstrained());
  std::vector<std::string> all = m.output_names();
  std::vector<size_t> at;
  for (auto& name : names) at.push_back(static_cast<size_t>(std::find(all.begin(), all.end(), name) - all.begin()));
  std::vector<std::vector<double>> values(names.size());
  std::mt19937_64 rng(seed);
  for (int d = 0; d < draws; ++d) {
    std::vector<double> out = m.constrained_outputs(q.draw(rng).data());
    for (size_t k = 0; k < at.size(); ++k) values[k].push_back(out.at(at[k]));
  }
  Moments r;
  for (auto& v : values) {
    MeanSe s = mean_se(v);
    r.mean.push_back(s.mean);
    r.sd.push_back(s.sd);
  }
  return r;
}

const std::vector<std::string> kSchoolNames{"mu", "theta.1", "theta.2", "theta.3", "theta.4",
                                            "theta.5", "theta.6", "theta.7", "theta.8"};

// Self-normalised importance sampling over the compiled log density with a multivariate t
// proposal (5 degrees of freedom) x = center + L t: posterior means and sds of quantities(x),
// the standard error of each mean, sqrt(sum w_k^2 (f_k - fbar)^2) / sum w_k, and the
// effective sample size (sum w)^2 / sum w^2 as a fraction of the draws.
struct ImportanceReference {
  std::vector<double> mean, sd, se, map;
  double ess_fraction = 0;
};

ImportanceReference importance_sample(const BoundModel& m, const std::vector<double>& center, const Mat& L, int draws,
                                      uint64_t seed,
                                      const std::function<std::vector<double>(const std::vector<double>&)>& quantities) {
  int n = static_cast<int>(center.size());
  const double nu = 5;
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::chi_squared_distribution<double> chi2(nu);
  std::vector<std::vector<double>> fs;
  std::vector<double> logw;
  for (int k = 0; k < draws; ++k) {
    std::vector<double> e(static_cast<size_t>(n));
    for (double& v : e) v = normal(rng);
    double scale = std::sqrt(nu / chi2(rng));
    for (double& v : e) v *= scale;
    std::vector<double> x = matvec(L, e);
    for (int i = 0; i < n; ++i) x[i] += center[i];
    double log_q = -0.5 * (nu + n) * std::log1p(dot(e, e) / nu);  // up to a constant
    logw.push_back(lp(m, x) - log_q);
    fs.push_back(quantities(x));
  }
  double mx = *std::max_element(logw.begin(), logw.end()), sw = 0, sw2 = 0;
  std::vector<double> w(logw.size());
  for (size_t k = 0; k < w.size(); ++k) {
    w[k] = std::exp(logw[k] - mx);
    sw += w[k];
    sw2 += w[k] * w[k];
  }
  ImportanceReference r;
  r.ess_fraction = sw * sw / sw2 / draws;
  for (size_t i = 0; i < fs[0].size(); ++i) {
    double m1 = 0, m2 = 0;
    for (size_t k = 0; k < w.size(); ++k) {
      m1 += w[k] * fs[k][i];
      m2 += w[k] * fs[k][i] * fs[k][i];
    }
    m1 /= sw;
    m2 /= sw;
    double v = 0;
    for (size_t k = 0; k < w.size(); ++k) v += w[k] * w[k] * (fs[k][i] - m1) * (fs[k][i] - m1);
    r.mean.push_back(m1);
    r.sd.push_back(std::sqrt(m2 - m1 * m1));
    r.se.push_back(std::sqrt(v) / sw);
  }
  return r;
}

// Logistic regression (examples/logistic: N = 500, D = 5, unconstrained [alpha, beta]):
// importance sampling as above with the proposal centred at the MAP (L-BFGS) with 1.2^2
// times the Laplace covariance (the inverse of minus the Hessian, by central differences of
// the compiled gradient). The posterior is close to Gaussian, so the effective sample size
// is most of the draws (asserted > 50%).
ImportanceReference logistic_reference(const BoundModel& m, int draws, uint64_t seed) {
  int n = static_cast<int>(m.num_unconstrained());
  auto f = [&](const double* x, double* g) { return m.log_density(x, g, true); };
  LbfgsOptions lo;
  lo.tol_rel_grad = 1e2;
  LbfgsResult map = maximize_lbfgs(f, std::vector<double>(static_cast<size_t>(n), 0.0), lo);
  BOOST_REQUIRE(map.converged);
  Mat H(n, n);
  for (int j = 0; j < n; ++j) {
    double h = 1e-5;
    std::vector<double> a = map.x, b = map.x, ga(n), gb(n);
    a[j] += h;
    b[j] -= h;
    f(a.data(), ga.data());
    f(b.data(), gb.data());
    for (int i = 0; i < n; ++i) H(i, j) = -(ga[i] - gb[i]) / (2 * h);
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) H(i, j) = H(j, i) = 0.5 * (H(i, j) + H(j, i));
  Mat L = scaled(cholesky(spd_inverse(H)), 1.2);
  ImportanceReference r = importance_sample(m, map.x, L, draws, seed, [](const std::vector<double>& x) { return x; });
  r.map = map.x;
  return r;
}

}  // namespace


BOOST_AUTO_TEST_SUITE(reference_posteriors)

// Eight schools: precise settings (eta 0.3 fixed, 20 draws per step, 3000 iterations).
// Over seeds 1..8 the largest error of the means of mu and theta[j] was 0.26 posterior sd
// for mean-field and 0.20 for full-rank; the errors are mostly bias, not noise (the same
// sign and size for every seed): mean-field underestimates tau, which shrinks theta[1]
// and theta[7] (the schools with the largest y) towards mu by ~0.2 sd. Tolerance: 0.5
// posterior sd for every mean (generous: about 2 x the bias); the Monte Carlo error of the
// approximation's means (20000 draws) is < 0.01 sd.
BOOST_AUTO_TEST_CASE(eight_schools_means) {
  Moments ref = eight_schools_reference();
  auto m = load_example("eight_schools");
  for (Family family : {Family::MeanField, Family::FullRank}) {
    AdviOptions o;
    o.family = family;
    o.adapt = false;
    o.eta = 0.3;
    o.grad_samples = 20;
    o.max_iterations = 3000;
    o.tol_rel_obj = 0;
    o.seed = 1;
    AdviResult r = fit_advi(*m, o);
    std::vector<std::string> names = kSchoolNames;
    names.push_back("tau");
    Moments q = approximation_moments(*m, family, r.phi, names, 20000, 2);
    for (size_t k = 0; k < kSchoolNames.size(); ++k) {
      BOOST_TEST_MESSAGE(family_name(family) << " " << names[k] << ": " << q.mean[k] << " (reference " << ref.mean[k]
                                             << ", sd " << ref.sd[k] << ")");
      BOOST_TEST(std::fabs(q.mean[k] - ref.mean[k]) < 0.5 * ref.sd[k],
                 family_name(family) << " E[" << names[k] << "] = " << q.mean[k] << ", reference " << ref.mean[k]
                                     << " (posterior sd " << ref.sd[k] << ")");
    }
    BOOST_TEST_MESSAGE(family_name(family) << " tau: " << q.mean[9] << " (reference " << ref.mean[9] << ")");
    if (family == Family::MeanField)  // the known bias: tau (and so the spread of theta) underestimated
      BOOST_TEST(q.mean[9] < ref.mean[9]);
    if (family == Family::FullRank) {
      // The quadrature against an independent reference: importance sampling over the compiled
      // log density, t proposal centred at this fit with 1.5 x its scale factor, 40000 draws;
      // agreement within 4 standard errors + 1e-3 (quadrature error) for every mean.
      int n = static_cast<int>(m->num_unconstrained());
      std::vector<std::string> all = m->output_names();
      ImportanceReference is = importance_sample(
          *m, q_mean(r.phi, n), scaled(scale_factor(family, r.phi, n), 1.5), 40000, 3, [&](const std::vector<double>& x) {
            std::vector<double> out = m->constrained_outputs(x.data()), f;
            for (auto& name : names) f.push_back(out.at(static_cast<size_t>(std::find(all.begin(), all.end(), name) - all.begin())));
            return f;
          });
      BOOST_TEST_MESSAGE("eight schools importance sampling: ESS " << is.ess_fraction);
      BOOST_TEST(is.ess_fraction > 0.1);  // measured 0.19: 7500 effective draws
      for (size_t k = 0; k < names.size(); ++k) {
        BOOST_TEST_MESSAGE(names[k] << ": importance sampling " << is.mean[k] << " +- " << is.se[k]);
        BOOST_TEST(std::fabs(is.mean[k] - ref.mean[k]) < 4 * is.se[k] + 1e-3,
                   names[k] << ": importance sampling " << is.mean[k] << " +- " << is.se[k] << ", quadrature " << ref.mean[k]);
      }
    }
  }
}

// Stan's defaults (1 draw per step, adapted eta, tol_rel_obj 0.01), mean-field: over seeds
// 1..30 the largest error of the means of mu and theta was 0.46 posterior sd (runs stop
// anywhere from 200 to 10000 iterations). Tolerance 0.75 sd.
BOOST_AUTO_TEST_CASE(eight_schools_stan_defaults) {
  Moments ref = eight_schools_reference();
  auto m = load_example("eight_schools");
  AdviOptions o;
  o.seed = 3;
  AdviResult r = fit_advi(*m, o);
  Moments q = approximation_moments(*m, Family::MeanField, r.phi, kSchoolNames, 20000, 2);
  for (size_t k = 0; k < kSchoolNames.size(); ++k)
    BOOST_TEST(std::fabs(q.mean[k] - ref.mean[k]) < 0.75 * ref.sd[k],
               "E[" << kSchoolNames[k] << "] = " << q.mean[k] << ", reference " << ref.mean[k]);
}

// Logistic regression: precise settings as for eight schools. The reference is the
// importance-sampling estimate (40000 draws; standard errors ~0.006 posterior sd). The
// Gaussian approximation's optimal mean is not exactly the posterior mean of this slightly
// skewed posterior (the MAP is up to 0.19 sd from the mean, for beta[5]); over seeds 1..8 the
// largest error of the ADVI mean was 0.126 sd (mean-field) and 0.126 sd (full-rank).
// Tolerance 0.25 sd (2 x that).
BOOST_AUTO_TEST_CASE(logistic_regression_means) {
  auto m = load_example("logistic");
  ImportanceReference ref = logistic_reference(*m, 40000, 1);
  BOOST_TEST(ref.ess_fraction > 0.5);
  for (size_t i = 0; i < ref.mean.size(); ++i) {
    BOOST_TEST(ref.se[i] < 0.01 * ref.sd[i]);
    BOOST_TEST_MESSAGE("reference " << i << ": " << ref.mean[i] << " sd " << ref.sd[i] << " se " << ref.se[i]
                                    << " (MAP " << ref.map[i] << ")");
  }
  for (Family family : {Family::MeanField, Family::FullRank}) {
    AdviOptions o;
    o.family = family;
    o.adapt = false;
    o.eta = 0.3;
    o.grad_samples = 20;
    o.max_iterations = 3000;
    o.tol_rel_obj = 0;
    o.seed = 1;
    AdviResult r = fit_advi(*m, o);
    for (size_t i = 0; i < ref.mean.size(); ++i)  // unconstrained parameters: the mean is mu
      BOOST_TEST(std::fabs(r.phi[i] - ref.mean[i]) < 0.25 * ref.sd[i],
                 family_name(family) << " mean[" << i << "] = " << r.phi[i] << ", reference " << ref.mean[i]
                                     << " (sd " << ref.sd[i] << ")");
    if (family == Family::FullRank) {  // and the covariance is close to the posterior's: sds within 15%
      Mat C = q_covariance(family, r.phi, static_cast<int>(ref.mean.size()));
      for (size_t i = 0; i < ref.mean.size(); ++i)
        BOOST_TEST(std::fabs(std::sqrt(C(i, i)) / ref.sd[i] - 1) < 0.15);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// =========================================================================================
// 5. Optimisers, convergence, reproducibility, divergence
// =========================================================================================

BOOST_AUTO_TEST_SUITE(driver)

// Every optimiser reaches the exact posterior of the normal-mean model (1-d, so mean-field is
// exact too). Adam: learning rate 0.01, 20 draws per step, 3000 iterations; SGD with momentum
// 0.9: learning rate 0.001 (gradients here are O(1/posterior variance) = O(3)), same budget.
// Over seeds 1..10 the largest errors were 0.07 posterior sd for the mean and 6.6% for the
// sd; tolerances: mean within 0.2 posterior sd, sd within 20% (3 x those).
BOOST_AUTO_TEST_CASE(optimizers_reach_the_posterior) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  for (StochasticOptimizer opt : {StochasticOptimizer::Adam, StochasticOptimizer::SgdMomentum}) {
    for (Family family : {Family::MeanField, Family::FullRank}) {
      AdviOptions o;
      o.family = family;
      o.optimizer = opt;
      o.eta = opt == StochasticOptimizer::Adam ? 0.01 : 0.001;
      o.grad_samples = 20;
      o.max_iterations = 3000;
      o.tol_rel_obj = 0;
      o.seed = 1;
      AdviResult r = fit_advi(*m, o);
      double sd = std::sqrt(q_covariance(family, r.phi, 1)(0, 0));
      BOOST_TEST_MESSAGE("optimizer " << static_cast<int>(opt) << " " << family_name(family) << ": mean error "
                                      << (r.phi[0] - p.post_mean()) / p.post_sd() << " sd, sd ratio " << sd / p.post_sd());
      BOOST_TEST_CONTEXT("optimizer " << static_cast<int>(opt) << " " << family_name(family) << " phi " << vec_str(r.phi)) {
        BOOST_TEST(r.eta == o.eta);  // no adaptation outside StanAdaptive
        BOOST_TEST(!r.converged);
        BOOST_TEST(r.iterations == 3000);
        BOOST_TEST(std::fabs(r.phi[0] - p.post_mean()) < 0.2 * p.post_sd());
        BOOST_TEST(std::fabs(sd / p.post_sd() - 1) < 0.2);
      }
    }
  }
}

// Training on IWAE_K (iwae_objective, K = grad_samples). Its optimum for an exactly Gaussian
// posterior is still q = p (IWAE_K <= log p(y), with equality there): on the 1-d model, Adam
// (learning rate 0.01, K = 10, 3000 iterations) gets there, but with more jitter than the ELBO
// fits: at q = p the reparameterised IWAE gradient does not vanish draw by draw (the score
// term of log q remains). Over seeds 1..10: mean errors up to 0.22 posterior sd (rms 0.11),
// sd ratios 0.90-1.33 (rms deviation 0.14). Tolerances: 0.5 sd and 50% (~4 rms).
// On the correlated 3-d regression, mean-field cannot reach p; the IWAE-trained q must score
// a higher IWAE_10 than the ELBO-trained one (measured: by 0.21-0.25 over seeds 1..10, with
// standard errors ~0.004; 20000 replicates each, difference > 4 standard errors) and be
// wider along the correlated coordinates beta[1], beta[2] (mass-covering; beta[3] is nearly
// independent of them, and its mean-field sd is already right).
BOOST_AUTO_TEST_CASE(iwae_objective) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  AdviOptions o;
  o.iwae_objective = true;
  o.optimizer = StochasticOptimizer::Adam;
  o.eta = 0.01;
  o.grad_samples = 10;
  o.max_iterations = 3000;
  o.tol_rel_obj = 0;
  o.seed = 1;
  for (Family family : {Family::MeanField, Family::FullRank}) {
    o.family = family;
    AdviResult r = fit_advi(*m, o);
    double sd = std::sqrt(q_covariance(family, r.phi, 1)(0, 0));
    BOOST_TEST_MESSAGE("IWAE-trained " << family_name(family) << ": mean error " << (r.phi[0] - p.post_mean()) / p.post_sd()
                                       << " sd, sd ratio " << sd / p.post_sd() << ", objective " << r.elbo);
    BOOST_TEST(std::fabs(r.phi[0] - p.post_mean()) < 0.5 * p.post_sd());
    BOOST_TEST(std::fabs(sd / p.post_sd() - 1) < 0.5);
    BOOST_TEST(std::isfinite(r.elbo));  // the in-run estimate: one IWAE_10 draw
  }
  LinearRegressionProblem lr;
  auto m3 = make_model(kLinearRegression, lr.json());
  o.family = Family::MeanField;
  AdviResult iw = fit_advi(*m3, o);
  o.iwae_objective = false;
  AdviResult el = fit_advi(*m3, o);
  std::vector<MeanSe> a = iwae_curve(*m3, Family::MeanField, iw.phi, {10}, 200000, 21);
  std::vector<MeanSe> b = iwae_curve(*m3, Family::MeanField, el.phi, {10}, 200000, 22);
  BOOST_TEST_MESSAGE("IWAE_10: IWAE-trained " << a[0].mean << " +- " << a[0].se << ", ELBO-trained " << b[0].mean << " +- "
                                              << b[0].se << ", log p(y) " << lr.log_evidence());
  BOOST_TEST(a[0].mean - b[0].mean > 4 * std::sqrt(a[0].se * a[0].se + b[0].se * b[0].se));
  BOOST_TEST(a[0].mean < lr.log_evidence() + 4 * a[0].se);
  for (int i = 0; i < 2; ++i) BOOST_TEST(iw.phi[3 + i] > el.phi[3 + i], "log sd " << i);
}

// Convergence by the relative ELBO change, the progress callback, and the iteration cap.
BOOST_AUTO_TEST_CASE(convergence_and_progress) {
  NormalMeanProblem p;
  auto m = make_model(kNormalMean, p.json());
  AdviOptions o;
  o.seed = 5;
  std::vector<int> its;
  std::vector<double> changes;
  o.progress = [&](int it, double elbo, double change) {
    its.push_back(it);
    changes.push_back(change);
    BOOST_TEST(std::isfinite(elbo));
  };
  AdviResult r = fit_advi(*m, o);
  BOOST_TEST(r.converged);
  BOOST_TEST(contains(r.message, "relative ELBO change"), r.message);
  BOOST_TEST(r.iterations < o.max_iterations);
  BOOST_TEST(r.iterations % o.eval_elbo == 0);
  BOOST_TEST(std::isfinite(r.elbo));
  BOOST_TEST((r.eta == 100 || r.eta == 10 || r.eta == 1 || r.eta == 0.1 || r.eta == 0.01), "eta " << r.eta);
  BOOST_REQUIRE(!its.empty());
  BOOST_TEST(its.back() == r.iterations);
  for (size_t k = 0; k < its.size(); ++k) BOOST_TEST(its[k] == static_cast<int>((k + 1) * o.eval_elbo));
  BOOST_TEST(std::isnan(changes[0]));  // no previous estimate
  for (size_t k = 1; k < changes.size(); ++k) BOOST_TEST((changes[k] >= 0 && std::isfinite(changes[k])));

  AdviOptions capped;
  capped.seed = 5;
  capped.max_iterations = 150;
  capped.tol_rel_obj = 0;
  AdviResult c = fit_advi(*m, capped);
  BOOST_TEST(!c.converged);
  BOOST_TEST(c.iterations == 150);
  BOOST_TEST(contains(c.message, "maximum number of iterations"), c.message);
  BOOST_TEST(std::isfinite(c.elbo));

  // initial_mean is used (here: a cap of one iteration with a tiny fixed step stays near it).
  AdviOptions start;
  start.adapt = false;
  start.eta = 1e-6;
  start.max_iterations = 1;
  start.initial_mean = {7.5};
  AdviResult s = fit_advi(*m, start);
  BOOST_TEST(std::fabs(s.phi[0] - 7.5) < 1e-5);
  BOOST_TEST(std::fabs(s.phi[1]) < 1e-5);  // omega starts at 0 (unit scale)
  start.family = Family::FullRank;
  s = fit_advi(*m, start);
  BOOST_TEST(std::fabs(s.phi[1] - 1) < 1e-5);  // L starts at the identity
}

// Same seed, same result bit for bit (every family and optimiser); another seed differs; two
// fits running at once on one model give the sequential result.
BOOST_AUTO_TEST_CASE(reproducible) {
  auto m = load_example("eight_schools");
  for (Family family : {Family::MeanField, Family::FullRank}) {
    for (StochasticOptimizer opt : {StochasticOptimizer::StanAdaptive, StochasticOptimizer::Adam, StochasticOptimizer::SgdMomentum}) {
      AdviOptions o;
      o.family = family;
      o.optimizer = opt;
      o.eta = opt == StochasticOptimizer::SgdMomentum ? 1e-4 : 0.01;
      o.grad_samples = 3;
      o.max_iterations = 400;
      o.seed = 42;
      AdviResult a = fit_advi(*m, o), b = fit_advi(*m, o);
      BOOST_TEST_CONTEXT(family_name(family) << " optimizer " << static_cast<int>(opt)) {
        BOOST_REQUIRE(a.phi.size() == b.phi.size());
        BOOST_TEST(std::memcmp(a.phi.data(), b.phi.data(), a.phi.size() * sizeof(double)) == 0);
        BOOST_TEST(std::memcmp(&a.elbo, &b.elbo, sizeof(double)) == 0);
        BOOST_TEST(a.iterations == b.iterations);
        BOOST_TEST(a.eta == b.eta);
        o.seed = 43;
        AdviResult c = fit_advi(*m, o);
        BOOST_TEST(c.phi != a.phi);
      }
    }
  }
  // Concurrent fits on one BoundModel (the compiled objectives are shared, the noise is per fit).
  AdviOptions o;
  o.family = Family::FullRank;
  o.grad_samples = 5;
  o.max_iterations = 500;
  o.seed = 8;
  AdviResult sequential = fit_advi(*m, o);
  AdviResult r1, r2;
  std::thread t1([&] { r1 = fit_advi(*m, o); }), t2([&] { r2 = fit_advi(*m, o); });
  t1.join();
  t2.join();
  BOOST_TEST(r1.phi == sequential.phi);
  BOOST_TEST(r2.phi == sequential.phi);
  // The estimators are reproducible from their seed.
  BOOST_TEST(estimate_elbo(*m, Family::FullRank, sequential.phi, 500, 3) == estimate_elbo(*m, Family::FullRank, sequential.phi, 500, 3));
  BOOST_TEST(estimate_iwae(*m, Family::FullRank, sequential.phi, 500, 3) == estimate_iwae(*m, Family::FullRank, sequential.phi, 500, 3));
  BOOST_TEST(estimate_iwae(*m, Family::FullRank, sequential.phi, 500, 3) != estimate_iwae(*m, Family::FullRank, sequential.phi, 500, 4));
}

namespace {

// The message of the UserError fit_advi throws, with every family and optimiser; a fit that
// returns is reported with its phi (the garbage the error must prevent).
void expect_fit_error(const std::string& model, const std::string& what) {
  auto m = make_model(model);
  for (Family family : {Family::MeanField, Family::FullRank}) {
    for (StochasticOptimizer opt : {StochasticOptimizer::StanAdaptive, StochasticOptimizer::Adam, StochasticOptimizer::SgdMomentum}) {
      AdviOptions o;
      o.family = family;
      o.optimizer = opt;
      o.adapt = opt == StochasticOptimizer::StanAdaptive;
      o.eta = opt == StochasticOptimizer::Adam ? 0.01 : opt == StochasticOptimizer::SgdMomentum ? 0.001 : 1.0;
      o.seed = 1;
      BOOST_TEST_CONTEXT(what << ", " << family_name(family) << ", optimizer " << static_cast<int>(opt)) {
        try {
          AdviResult r = fit_advi(*m, o);
          BOOST_ERROR("expected a UserError; the fit returned phi = " << vec_str(r.phi) << ", ELBO " << r.elbo
                                                                      << ", converged " << r.converged << " after "
                                                                      << r.iterations << " iterations: " << r.message);
        } catch (const UserError& e) {
          BOOST_TEST(contains(e.what(), "ADVI"), e.what());
        }
      }
    }
  }
}

}  // namespace

// A log density that is NaN everywhere, or NaN on half of the space around the start
// (log and sqrt of an unconstrained parameter): a UserError, never a fit.
BOOST_AUTO_TEST_CASE(non_finite_log_density_is_an_error) {
  expect_fit_error("parameters { real x; } model { target += log(-1 - x^2); }", "NaN everywhere");
  expect_fit_error("parameters { vector[2] x; } model { target += sqrt(x[1]); x ~ normal(0, 1); }",
                   "NaN for x[1] < 0");
}

// An improper posterior: target += x with x unbounded. The ELBO grows without bound
// (mu -> infinity); the run must end with a UserError, not a "converged" approximation.
// The stochastic run alone misses it (Stan's decreasing steps: mean-field mu = 991 after
// 10000 iterations; full-rank "converges" with mu = 6708): the fixed-draw L-BFGS check
// at the end (check_objective_bounded) finds the unbounded direction.
BOOST_AUTO_TEST_CASE(improper_posterior_is_an_error) {
  expect_fit_error("parameters { real x; } model { target += x; }", "target += x");
}

// Flat in the unconstrained space (log(s) from the Jacobian cancels -log(s)): the entropy
// term grows without bound (full-rank used to "converge" with L = 109).
BOOST_AUTO_TEST_CASE(flat_posterior_is_an_error) {
  expect_fit_error("parameters { real<lower=0> s; } model { target += -log(s); }", "flat in log s");
}

// A proper posterior with heavy (Cauchy) tails and one near the boundary of its support
// pass the same check: its objective has a maximum.
BOOST_AUTO_TEST_CASE(proper_heavy_tailed_posteriors_pass_the_bounded_check) {
  for (const char* model : {"parameters { real x; } model { x ~ cauchy(0, 1); }",
                            "parameters { real<lower=0> s; } model { s ~ exponential(1); }",
                            "parameters { real<lower=0, upper=1> p; } model { }"}) {
    auto m = make_model(model);
    for (Family family : {Family::MeanField, Family::FullRank}) {
      AdviOptions o;
      o.family = family;
      o.seed = 1;
      BOOST_TEST_CONTEXT(model << ", " << family_name(family)) {
        AdviResult r = fit_advi(*m, o);
        BOOST_TEST(r.restarts.empty());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

// =========================================================================================
// 6. The command line: latent fit --method advi|fullrank, latent eval --iwae
// =========================================================================================

namespace {

nlohmann::json read_json(const std::string& path) { return nlohmann::json::parse(read_text(path)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(command_line)

// fullrank with precise settings on the normal-mean model: the CSV (CmdStan's layout: the
// mean first, then draws with log_p__ = log density and log_g__ = -eps'eps/2 of the draw),
// the JSON, and `eval --iwae` against the closed-form evidence.
BOOST_AUTO_TEST_CASE(fit_fullrank_and_eval) {
  TempDir dir;
  NormalMeanProblem p;
  std::string model = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", p.json());
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "fullrank", "-o", dir.file("draws.csv"), "-o",
                            dir.file("fit.json"), "--draws", "400", "--grad-samples", "100", "--iter", "6000", "--lr",
                            "0.3", "--tol-rel-obj", "0", "--seed", "3", "-q"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  BOOST_TEST(r.out.empty(), "stdout: " << r.out);  // outputs went to the files

  nlohmann::json j = read_json(dir.file("fit.json"));
  BOOST_TEST(j.at("method") == "advi");
  BOOST_TEST(j.at("family") == "fullrank");
  BOOST_TEST(j.at("iterations") == 6000);
  BOOST_TEST(j.at("converged") == false);
  BOOST_TEST(j.at("eta").get<double>() == 0.3);
  BOOST_REQUIRE(j.at("mu").size() == 1u);
  BOOST_REQUIRE(j.at("L").size() == 1u);
  BOOST_TEST(!j.contains("omega"));
  double mu = j["mu"][0].get<double>(), L = j["L"][0].get<double>();
  BOOST_TEST(j.at("parameters").at("mu").get<double>() == mu);
  BOOST_TEST(std::isfinite(j.at("elbo").get<double>()));
  // As precise as the API with these settings (section 2): mean within 0.1 sd, sd within 10%.
  BOOST_TEST(std::fabs(mu - p.post_mean()) < 0.1 * p.post_sd());
  BOOST_TEST(std::fabs(std::fabs(L) / p.post_sd() - 1) < 0.1);

  Csv c = read_csv(dir.file("draws.csv"));
  BOOST_TEST((c.header == std::vector<std::string>{"lp__", "log_p__", "log_g__", "mu"}));
  BOOST_REQUIRE(c.rows.size() == 401u);
  BOOST_TEST(c.rows[0] == (std::vector<double>{0, 0, 0, mu}));  // the mean, exactly (round-trip output)
  auto m = make_model(kNormalMean, p.json());
  std::vector<double> xs;
  for (size_t k = 1; k < c.rows.size(); ++k) {
    const std::vector<double>& row = c.rows[k];
    BOOST_REQUIRE(row.size() == 4u);
    double x = row[3], e = (x - mu) / L;
    BOOST_TEST(row[0] == 0);
    BOOST_TEST(close_rel(row[1], lp(*m, {x}), 1e-12), "log_p__ " << row[1] << " vs " << lp(*m, {x}));
    BOOST_TEST(close(row[2], -0.5 * e * e, 1e-9), "log_g__ " << row[2]);  // CmdStan's: -eps'eps/2
    xs.push_back(x);
  }
  // The draws are from q: their mean within 5 standard errors (|L| / sqrt(400)) of mu.
  MeanSe ms = mean_se(xs);
  BOOST_TEST(std::fabs(ms.mean - mu) < 5 * std::fabs(L) / 20);

  // eval --iwae K: q is within ~0.1 sd and 10% of p, so nu = Var(w) <= ~0.05 and IWAE_2000
  // has sd <= sqrt(0.05 / 2000) = 0.005: tolerance 0.025 (5 sd). The ELBO estimate (2000
  // draws) has sd sqrt(1/4000) = 0.016 and sits below log p(y) by KL(q || p) <= 0.01:
  // tolerance 5 sd + 0.01.
  RunResult e = run_latent({"eval", model, "--data", data, "--fit", dir.file("fit.json"), "--iwae", "2000", "--seed", "1"}, dir);
  BOOST_REQUIRE_MESSAGE(e.exited && e.exit_code == 0, e);
  nlohmann::json out = nlohmann::json::parse(e.out);
  BOOST_TEST(out.at("k") == 2000);
  BOOST_TEST(out.at("exact") == false);
  double iwae = out.at("iwae").get<double>(), elbo = out.at("elbo").get<double>();
  BOOST_TEST(std::fabs(iwae - p.log_evidence()) < 0.025, "IWAE " << iwae << " vs log p(y) " << p.log_evidence());
  BOOST_TEST(std::fabs(elbo - p.log_evidence()) < 5 * std::sqrt(1 / 4000.0) + 0.01, "ELBO " << elbo);
  // The same numbers as the API, and reproducible.
  std::vector<double> phi{mu, L};
  BOOST_TEST(iwae == estimate_iwae(*m, Family::FullRank, phi, 2000, 1));
  BOOST_TEST(elbo == estimate_elbo(*m, Family::FullRank, phi, 2000, 1));
  RunResult again = run_latent({"eval", model, "--data", data, "--fit", dir.file("fit.json"), "--iwae", "2000", "--seed", "1"}, dir);
  BOOST_TEST(again.out == e.out);
}

// Mean-field on a 3-d model: column names, JSON omega, same seed -> identical files.
BOOST_AUTO_TEST_CASE(fit_meanfield_reproducible) {
  TempDir dir;
  LinearRegressionProblem lr;
  std::string model = dir.write("lr.lat", kLinearRegression), data = dir.write("lr.json", lr.json());
  auto fit = [&](const std::string& tag, const std::string& seed, const std::string& method) {
    return run_latent({"fit", model, "--data", data, "--method", method, "-o", dir.file(tag + ".csv"), "-o",
                       dir.file(tag + ".json"), "--draws", "50", "--seed", seed, "-q"},
                      dir);
  };
  RunResult a = fit("a", "7", "advi"), b = fit("b", "7", "advi"), c = fit("c", "8", "advi"), f = fit("f", "7", "fullrank");
  RunResult iw = run_latent({"fit", model, "--data", data, "--method", "advi", "--objective", "iwae", "--k", "5", "-o",
                             dir.file("iw.json"), "--draws", "1", "--iter", "300", "--tol-rel-obj", "0", "-q"},
                            dir);
  for (RunResult* r : {&a, &b, &c, &f, &iw}) BOOST_REQUIRE_MESSAGE(r->exited && r->exit_code == 0, *r);
  BOOST_TEST(read_json(dir.file("iw.json")).at("objective") == "iwae");
  BOOST_TEST(read_json(dir.file("a.json")).at("objective") == "elbo");
  // The same but for the output file's name in the header (CmdStan's "output file = ...").
  auto csv_of = [&](const std::string& tag) {
    std::string text = read_text(dir.file(tag + ".csv"));
    const std::string path = dir.file(tag + ".csv");
    for (size_t at = text.find(path); at != std::string::npos; at = text.find(path)) text.replace(at, path.size(), "OUT");
    return text;
  };
  BOOST_TEST(csv_of("a") == csv_of("b"));
  BOOST_TEST(read_text(dir.file("a.json")) == read_text(dir.file("b.json")));
  BOOST_TEST(csv_of("a") != csv_of("c"));
  Csv csv = read_csv(dir.file("a.csv"));
  BOOST_TEST((csv.header == std::vector<std::string>{"lp__", "log_p__", "log_g__", "beta.1", "beta.2", "beta.3"}));
  BOOST_TEST(csv.rows.size() == 51u);
  nlohmann::json j = read_json(dir.file("a.json"));
  BOOST_TEST(j.at("family") == "meanfield");
  BOOST_TEST(j.at("omega").size() == 3u);
  BOOST_TEST(j.at("parameters").at("beta").size() == 3u);
  nlohmann::json jf = read_json(dir.file("f.json"));
  BOOST_TEST(jf.at("family") == "fullrank");
  BOOST_TEST(jf.at("L").size() == 6u);
  // eval reads both families
  for (std::string tag : {"a", "f"}) {
    RunResult e = run_latent({"eval", model, "--data", data, "--fit", dir.file(tag + ".json"), "--iwae", "100"}, dir);
    BOOST_REQUIRE_MESSAGE(e.exited && e.exit_code == 0, e);
    nlohmann::json out = nlohmann::json::parse(e.out);
    BOOST_TEST(std::isfinite(out.at("iwae").get<double>()));
    BOOST_TEST(out.at("iwae").get<double>() < lr.log_evidence() + 0.5);  // a lower bound (sd << 0.5 here)
  }
}

// eval on a model without parameters: exact, the log density itself (no --fit needed).
BOOST_AUTO_TEST_CASE(eval_exact_without_parameters) {
  TempDir dir;
  std::string model = dir.write("fixed.lat", "data { int N; vector[N] y; } model { target += normal_lpdf(y | 1.5, 2); }");
  std::string data = dir.write("fixed.json", R"({"N": 3, "y": [0.5, 2.0, 4.0]})");
  RunResult e = run_latent({"eval", model, "--data", data, "--iwae", "10"}, dir);
  BOOST_REQUIRE_MESSAGE(e.exited && e.exit_code == 0, e);
  nlohmann::json out = nlohmann::json::parse(e.out);
  double expected = 0;
  for (double y : {0.5, 2.0, 4.0}) expected += -0.5 * kLog2Pi - std::log(2.0) - 0.5 * std::pow((y - 1.5) / 2, 2);
  BOOST_TEST(out.at("exact") == true);
  BOOST_TEST(close_rel(out.at("iwae").get<double>(), expected, 1e-12));
  BOOST_TEST(close_rel(out.at("elbo").get<double>(), expected, 1e-12));
  // ... and fit refuses it with one message
  RunResult f = run_latent({"fit", model, "--data", data, "--method", "advi"}, dir);
  BOOST_TEST((f.exited && f.exit_code != 0), f);
  BOOST_TEST(contains(f.err, "no parameters"), f);
}

// eval's user errors: a MAP fit, a missing --fit, a fit of another model, a damaged file.
BOOST_AUTO_TEST_CASE(eval_errors) {
  TempDir dir;
  NormalMeanProblem p;
  std::string model = dir.write("normal.lat", kNormalMean), data = dir.write("normal.json", p.json());
  RunResult map = run_latent({"fit", model, "--data", data, "-o", dir.file("map.json"), "-q"}, dir);
  BOOST_REQUIRE_MESSAGE(map.exited && map.exit_code == 0, map);
  auto expect_error = [&](const std::vector<std::string>& args, const std::string& part) {
    RunResult r = run_latent(args, dir);
    std::string line;
    for (auto& a : args) line += " " + a;
    BOOST_TEST_CONTEXT("latent" << line << ": expecting '" << part << "'") {
      BOOST_TEST((r.exited && r.exit_code != 0), r);
      BOOST_TEST(contains(r.err, part), r);
      BOOST_TEST(r.out.empty(), r);
    }
  };
  expect_error({"eval", model, "--data", data, "--fit", dir.file("map.json")}, "not a variational fit");
  expect_error({"eval", model, "--data", data}, "--fit");
  // a 3-d fit for the 1-d model
  LinearRegressionProblem lr;
  std::string lr_model = dir.write("lr.lat", kLinearRegression), lr_data = dir.write("lr.json", lr.json());
  RunResult f = run_latent({"fit", lr_model, "--data", lr_data, "--method", "advi", "-o", dir.file("lr_fit.json"), "--draws", "1", "-q"}, dir);
  BOOST_REQUIRE_MESSAGE(f.exited && f.exit_code == 0, f);
  expect_error({"eval", model, "--data", data, "--fit", dir.file("lr_fit.json")}, "unconstrained parameters");
  expect_error({"eval", model, "--data", data, "--fit", dir.write("bad.json", "{\"method\": \"advi\", \"mu\": [")},
               "bad.json");
  expect_error({"eval", model, "--data", data, "--fit", dir.file("missing.json")}, "missing.json");
}

BOOST_AUTO_TEST_SUITE_END()
