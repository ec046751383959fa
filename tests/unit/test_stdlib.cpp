// The standard library, entry by entry, through the whole pipeline (parse ->
// check -> lower -> differentiate -> JIT): every distribution's log density
// against Boost.Math (or a closed form written out here), Stan's `~` semantics
// (dropping exactly the terms that do not depend on parameters), every math
// function against <cmath> / hand formulas, gradients against finite
// differences, and the argument checks.
#define BOOST_TEST_MODULE stdlib
#include "tests/support/model_fixture.hpp"

#include <boost/math/distributions/bernoulli.hpp>
#include <boost/math/distributions/beta.hpp>
#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/cauchy.hpp>
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
#include <boost/math/special_functions/digamma.hpp>

#include <functional>
#include <iomanip>

using namespace latent;
using namespace latent::testing;
namespace bm = boost::math;

namespace {

using Vec = std::vector<double>;
using Ref = std::function<double(const Vec&)>;
using Box = std::vector<std::pair<double, double>>;

const double kLogSqrt2Pi = 0.5 * std::log(2 * M_PI);

double inv_logit(double x) { return 1 / (1 + std::exp(-x)); }

// The log density at `points` random points in `box` (one interval per unconstrained
// coordinate, fixed seed) equals ref to 1e-10 relative, with and without the Jacobian
// (the models here have no constraints), and the gradient equals finite differences.
void check_model(const std::string& label, const std::string& model, const std::string& data, const Box& box,
                 const Ref& ref, int points = 4, double value_tol = 1e-10, double grad_tol = 1e-6) {
  BOOST_TEST_CONTEXT(label << "\nmodel:\n" << model) {
    try {
      std::unique_ptr<BoundModel> m = make_model(model, data);
      BOOST_TEST(m->num_unconstrained() == static_cast<int64_t>(box.size()));
      if (m->num_unconstrained() != static_cast<int64_t>(box.size())) return;
      std::mt19937_64 rng(20240611);
      for (int k = 0; k < points; ++k) {
        Vec theta;
        for (auto [lo, hi] : box) theta.push_back(std::uniform_real_distribution<double>(lo, hi)(rng));
        double want = ref(theta);
        double got = lp(*m, theta, true);
        BOOST_TEST(close(got, want, value_tol),
                   "at " << vec_str(theta) << ": log density " << std::setprecision(17) << got << ", reference "
                         << want << " (diff " << got - want << ")");
        BOOST_TEST(close(lp(*m, theta, false), want, value_tol));
        check_gradient(*m, theta, true, grad_tol, label);
      }
    } catch (const std::exception& e) {
      // Reported per model, so that one failure does not hide the others of the same test case.
      BOOST_ERROR(label << ": exception: " << e.what());
    }
  }
}

// Same density written two ways gives the same log density and gradient.
void check_same(const std::string& label, const std::string& a, const std::string& b, const std::string& data,
                const Box& box) {
  BOOST_TEST_CONTEXT(label) {
    try {
      auto ma = make_model(a, data), mb = make_model(b, data);
      std::mt19937_64 rng(7);
      for (int k = 0; k < 3; ++k) {
        Vec theta;
        for (auto [lo, hi] : box) theta.push_back(std::uniform_real_distribution<double>(lo, hi)(rng));
        double va = 0, vb = 0;
        Vec ga = gradient(*ma, theta, true, &va), gb = gradient(*mb, theta, true, &vb);
        BOOST_TEST(close(va, vb, 1e-12), va << " vs " << vb);
        for (size_t i = 0; i < ga.size(); ++i) BOOST_TEST(close(ga[i], gb[i], 1e-10), ga[i] << " vs " << gb[i]);
      }
    } catch (const std::exception& e) {
      BOOST_ERROR(label << ": exception: " << e.what());
    }
  }
}

}  // namespace

// ============================================================================================
// Continuous densities, scalar arguments, all parameters
// ============================================================================================

BOOST_AUTO_TEST_SUITE(densities_scalar)

BOOST_AUTO_TEST_CASE(normal) {
  check_model("normal_lpdf", "parameters { real y; real mu; real sigma; } model { target += normal_lpdf(y | mu, sigma); }",
              "{}", {{-3, 3}, {-2, 2}, {0.3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::normal(t[1], t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(std_normal) {
  check_model("std_normal_lpdf", "parameters { real y; } model { target += std_normal_lpdf(y); }", "{}", {{-3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::normal(0, 1), t[0])); });
}

BOOST_AUTO_TEST_CASE(cauchy) {
  check_model("cauchy_lpdf", "parameters { real y; real mu; real sigma; } model { target += cauchy_lpdf(y | mu, sigma); }",
              "{}", {{-5, 5}, {-2, 2}, {0.3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::cauchy(t[1], t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(student_t) {
  check_model("student_t_lpdf",
              "parameters { real y; real nu; real mu; real sigma; }\n"
              "model { target += student_t_lpdf(y | nu, mu, sigma); }",
              "{}", {{-5, 5}, {0.5, 30}, {-2, 2}, {0.3, 3}}, [](const Vec& t) {
                double z = (t[0] - t[2]) / t[3];
                return std::log(bm::pdf(bm::students_t(t[1]), z) / t[3]);
              });
}

BOOST_AUTO_TEST_CASE(exponential) {
  check_model("exponential_lpdf", "parameters { real y; real beta; } model { target += exponential_lpdf(y | beta); }",
              "{}", {{0.01, 5}, {0.2, 4}},
              [](const Vec& t) { return std::log(bm::pdf(bm::exponential(t[1]), t[0])); });
}

BOOST_AUTO_TEST_CASE(gamma) {
  // Boost: shape and scale; Stan: shape and inverse scale (rate).
  check_model("gamma_lpdf", "parameters { real y; real a; real b; } model { target += gamma_lpdf(y | a, b); }", "{}",
              {{0.05, 6}, {0.3, 5}, {0.2, 4}},
              [](const Vec& t) { return std::log(bm::pdf(bm::gamma_distribution<>(t[1], 1 / t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(inv_gamma) {
  check_model("inv_gamma_lpdf", "parameters { real y; real a; real b; } model { target += inv_gamma_lpdf(y | a, b); }",
              "{}", {{0.1, 6}, {0.3, 5}, {0.2, 4}},
              [](const Vec& t) { return std::log(bm::pdf(bm::inverse_gamma(t[1], t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(beta) {
  check_model("beta_lpdf", "parameters { real y; real a; real b; } model { target += beta_lpdf(y | a, b); }", "{}",
              {{0.02, 0.98}, {0.3, 5}, {0.3, 5}},
              [](const Vec& t) { return std::log(bm::pdf(bm::beta_distribution<>(t[1], t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(lognormal) {
  check_model("lognormal_lpdf",
              "parameters { real y; real mu; real sigma; } model { target += lognormal_lpdf(y | mu, sigma); }", "{}",
              {{0.05, 8}, {-1, 1}, {0.3, 2}},
              [](const Vec& t) { return std::log(bm::pdf(bm::lognormal(t[1], t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(double_exponential_logistic_weibull) {
  check_model("double_exponential_lpdf",
              "parameters { real y; real mu; real sigma; } model { target += double_exponential_lpdf(y | mu, sigma); }",
              "{}", {{-3, 3}, {-1, 1}, {0.3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::laplace(t[1], t[2]), t[0])); });
  check_model("logistic_lpdf", "parameters { real y; real mu; real sigma; } model { target += logistic_lpdf(y | mu, sigma); }",
              "{}", {{-3, 3}, {-1, 1}, {0.3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::logistic(t[1], t[2]), t[0])); });
  check_model("weibull_lpdf", "parameters { real y; real alpha; real sigma; } model { target += weibull_lpdf(y | alpha, sigma); }",
              "{}", {{0.1, 4}, {0.5, 3}, {0.3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::weibull(t[1], t[2]), t[0])); });
}

BOOST_AUTO_TEST_CASE(dirichlet) {
  // A simplex parameter (stick-breaking, with its log-Jacobian) and data concentrations:
  // compare with the density written out, on the same simplex.
  check_same("dirichlet_lpdf", "data { vector[3] a; } parameters { simplex[3] t; } model { target += dirichlet_lpdf(t | a); }",
             "data { vector[3] a; } parameters { simplex[3] t; }\n"
             "model { target += lgamma(sum(a)) - sum(lgamma(a)) + dot_product(a - 1, log(t)); }",
             R"({"a": [2, 0.5, 3]})", Box(2, {-1, 1}));
  check_same("dirichlet ~ drops the normaliser of data concentrations",
             "data { vector[3] a; } parameters { simplex[3] t; } model { t ~ dirichlet(a); }",
             "data { vector[3] a; } parameters { simplex[3] t; } model { target += dot_product(a - 1, log(t)); }",
             R"({"a": [2, 0.5, 3]})", Box(2, {-1, 1}));
  check_same("dirichlet with parameter concentrations",
             "parameters { simplex[3] t; vector<lower=0>[3] a; } model { t ~ dirichlet(a); }",
             "parameters { simplex[3] t; vector<lower=0>[3] a; }\n"
             "model { target += lgamma(sum(a)) - sum(lgamma(a)) + dot_product(a - 1, log(t)); }",
             "{}", Box(5, {-1, 1}));
  std::string msg = user_error([] {
    auto m = make_model("data { vector[3] t; } parameters { real<lower=0> a; } model { t ~ dirichlet(rep_vector(a, 3)); }",
                        R"({"t": [0.5, 0.4, 0.3]})");
    lp(*m, {0.0});
  });
  BOOST_TEST(contains(msg, "not a valid simplex"), msg);
}

BOOST_AUTO_TEST_CASE(uniform) {
  // y inside [a, b] at every sampled point
  check_model("uniform_lpdf", "parameters { real y; real a; real b; } model { target += uniform_lpdf(y | a, b); }",
              "{}", {{-0.5, 0.5}, {-3, -1}, {1, 4}},
              [](const Vec& t) { return std::log(bm::pdf(bm::uniform(t[1], t[2]), t[0])); });
  // outside the support: -inf
  auto m = make_model("parameters { real y; } model { target += uniform_lpdf(y | 0, 1); }");
  BOOST_TEST(lp(*m, {1.5}) == -INFINITY);
  BOOST_TEST(lp(*m, {-0.1}) == -INFINITY);
  BOOST_TEST(close(lp(*m, {0.5}), 0.0, 1e-15));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Discrete distributions (variates are data; parameters are parameters)
// ============================================================================================

BOOST_AUTO_TEST_SUITE(densities_discrete)

BOOST_AUTO_TEST_CASE(bernoulli) {
  for (int n : {0, 1}) {
    check_model("bernoulli_lpmf n=" + std::to_string(n),
                "data { int n; } parameters { real theta; } model { target += bernoulli_lpmf(n | theta); }",
                "{\"n\": " + std::to_string(n) + "}", {{0.05, 0.95}},
                [n](const Vec& t) { return std::log(bm::pdf(bm::bernoulli(t[0]), n)); });
  }
}

BOOST_AUTO_TEST_CASE(bernoulli_logit) {
  for (int n : {0, 1}) {
    check_model("bernoulli_logit_lpmf n=" + std::to_string(n),
                "data { int n; } parameters { real alpha; } model { target += bernoulli_logit_lpmf(n | alpha); }",
                "{\"n\": " + std::to_string(n) + "}", {{-6, 6}},
                [n](const Vec& t) { return std::log(bm::pdf(bm::bernoulli(inv_logit(t[0])), n)); });
  }
  // far in the tails: log inv_logit(40) ~ -4.2e-18, log(1 - inv_logit(40)) = -40 (no cancellation)
  auto m = make_model("data { int n; } parameters { real alpha; } model { target += bernoulli_logit_lpmf(n | alpha); }",
                      "{\"n\": 0}");
  BOOST_TEST(close_rel(lp(*m, {40}), -40 - std::log1p(std::exp(-40.0)), 1e-14));
  BOOST_TEST(close_rel(lp(*m, {-40}), -std::log1p(std::exp(-40.0)), 1e-12));
}

BOOST_AUTO_TEST_CASE(binomial) {
  check_model("binomial_lpmf",
              "data { int n; int N; } parameters { real theta; } model { target += binomial_lpmf(n | N, theta); }",
              "{\"n\": 7, \"N\": 20}", {{0.05, 0.95}},
              [](const Vec& t) { return std::log(bm::pdf(bm::binomial(20, t[0]), 7)); });
}

BOOST_AUTO_TEST_CASE(binomial_logit) {
  check_model("binomial_logit_lpmf",
              "data { int n; int N; } parameters { real alpha; } model { target += binomial_logit_lpmf(n | N, alpha); }",
              "{\"n\": 13, \"N\": 20}", {{-3, 3}},
              [](const Vec& t) { return std::log(bm::pdf(bm::binomial(20, inv_logit(t[0])), 13)); });
}

BOOST_AUTO_TEST_CASE(poisson) {
  for (int n : {0, 1, 9}) {
    check_model("poisson_lpmf n=" + std::to_string(n),
                "data { int n; } parameters { real lambda; } model { target += poisson_lpmf(n | lambda); }",
                "{\"n\": " + std::to_string(n) + "}", {{0.1, 12}},
                [n](const Vec& t) { return std::log(bm::pdf(bm::poisson(t[0]), n)); });
  }
}

BOOST_AUTO_TEST_CASE(neg_binomial_2) {
  // neg_binomial_2(mu, phi) is Boost's negative_binomial(r = phi, p = phi / (mu + phi)).
  for (int n : {0, 3, 17}) {
    check_model("neg_binomial_2_lpmf n=" + std::to_string(n),
                "data { int n; } parameters { real mu; real phi; } model { target += neg_binomial_2_lpmf(n | mu, phi); }",
                "{\"n\": " + std::to_string(n) + "}", {{0.2, 12}, {0.3, 20}},
                [n](const Vec& t) { return std::log(bm::pdf(bm::negative_binomial(t[1], t[1] / (t[0] + t[1])), n)); });
    check_model("neg_binomial_2_log_lpmf n=" + std::to_string(n),
                "data { int n; } parameters { real eta; real phi; }\n"
                "model { target += neg_binomial_2_log_lpmf(n | eta, phi); }",
                "{\"n\": " + std::to_string(n) + "}", {{-2, 2.5}, {0.3, 20}}, [n](const Vec& t) {
                  double mu = std::exp(t[0]);
                  return std::log(bm::pdf(bm::negative_binomial(t[1], t[1] / (mu + t[1])), n));
                });
  }
}

BOOST_AUTO_TEST_CASE(generalised_linear_models) {
  // Each GLM equals its base distribution at alpha + x * beta.
  const std::string data = R"({"N": 3, "K": 2, "x": [[0.5, -1], [1.5, 2], [-0.3, 0.7]], "y": [1, 0, 1],
                               "c": [2, 0, 5], "z": [0.3, -1.2, 2.5]})";
  const std::string decls = "data { int N; int K; matrix[N, K] x; array[N] int y; array[N] int c; vector[N] z; }\n"
                            "parameters { real alpha; vector[K] beta; real<lower=0> sigma; vector[N] a; }\n";
  Box box(7, {-1, 1});
  check_same("bernoulli_logit_glm", decls + "model { target += bernoulli_logit_glm_lpmf(y | x, alpha, beta); }",
             decls + "model { target += bernoulli_logit_lpmf(y | alpha + x * beta); }", data, box);
  check_same("bernoulli_logit_glm, a vector intercept",
             decls + "model { y ~ bernoulli_logit_glm(x, a, beta); }",
             decls + "model { y ~ bernoulli_logit(a + x * beta); }", data, box);
  check_same("poisson_log_glm", decls + "model { c ~ poisson_log_glm(x, alpha, beta); }",
             decls + "model { c ~ poisson_log(alpha + x * beta); }", data, box);
  check_same("normal_id_glm", decls + "model { target += normal_id_glm_lpdf(z | x, alpha, beta, sigma); }",
             decls + "model { target += normal_lpdf(z | alpha + x * beta, sigma); }", data, box);
  check_same("normal_id_glm ~", decls + "model { z ~ normal_id_glm(x, alpha, beta, sigma); }",
             decls + "model { z ~ normal(alpha + x * beta, sigma); }", data, box);
  std::string msg = user_error([&] {
    make_model("data { matrix[3, 2] x; array[3] int y; } parameters { vector[3] b; }\n"
               "model { y ~ bernoulli_logit_glm(x, 0, b); }",
               R"({"x": [[1, 2], [3, 4], [5, 6]], "y": [1, 0, 1]})");
  });
  BOOST_TEST(contains(msg, "the matrix parameter has 2 columns, the weight vector 3 elements"), msg);
}

BOOST_AUTO_TEST_CASE(poisson_log) {
  check_model("poisson_log_lpmf",
              "data { int n; } parameters { real alpha; } model { target += poisson_log_lpmf(n | alpha); }",
              "{\"n\": 4}", {{-2, 2.5}},
              [](const Vec& t) { return std::log(bm::pdf(bm::poisson(std::exp(t[0])), 4)); });
}

// Boundary values where one branch of the density is -inf: Stan gives a finite
// value and a finite derivative.
BOOST_AUTO_TEST_CASE(boundaries) {
  {  // poisson_lpmf(0 | 0) = 0, d/dlambda = -1
    auto m = make_model("data { int n; } parameters { real lambda; } model { target += poisson_lpmf(n | lambda); }",
                        "{\"n\": 0}");
    double v = 0;
    Vec g = gradient(*m, {0.0}, true, &v);
    BOOST_TEST(v == 0.0);
    BOOST_TEST(g[0] == -1.0);
  }
  {  // bernoulli_lpmf(1 | 1) = 0, d/dtheta = 1/theta = 1
    auto m = make_model("data { int n; } parameters { real theta; } model { target += bernoulli_lpmf(n | theta); }",
                        "{\"n\": 1}");
    double v = 0;
    Vec g = gradient(*m, {1.0}, true, &v);
    BOOST_TEST(v == 0.0);
    BOOST_TEST(g[0] == 1.0);
  }
  {  // bernoulli_lpmf(0 | 0) = 0, d/dtheta = -1/(1 - theta) = -1
    auto m = make_model("data { int n; } parameters { real theta; } model { target += bernoulli_lpmf(n | theta); }",
                        "{\"n\": 0}");
    double v = 0;
    Vec g = gradient(*m, {0.0}, true, &v);
    BOOST_TEST(v == 0.0);
    BOOST_TEST(g[0] == -1.0);
  }
}

// multinomial(y | theta) and multinomial_logit(y | gamma) against the closed form
// lgamma(N + 1) - sum lgamma(y_k + 1) + sum y_k log theta_k (theta = softmax(gamma));
// a zero count with a zero probability costs nothing; `~` drops the normaliser.
BOOST_AUTO_TEST_CASE(multinomial) {
  const std::vector<int> y{3, 0, 5, 1};
  auto closed_form = [y](const Vec& theta) {
    double n = 0, v = 0;
    for (size_t k = 0; k < y.size(); ++k) {
      n += y[k];
      v -= std::lgamma(y[k] + 1.0);
      if (y[k] > 0) v += y[k] * std::log(theta[k]);
    }
    return v + std::lgamma(n + 1);
  };
  auto softmax = [](const Vec& g) {
    double z = 0;
    for (double v : g) z += std::exp(v);
    Vec p;
    for (double v : g) p.push_back(std::exp(v) / z);
    return p;
  };
  const std::string data = R"({"y": [3, 0, 5, 1]})";
  check_model("multinomial_logit_lpmf",
              "data { array[4] int y; } parameters { vector[4] g; } model { target += multinomial_logit_lpmf(y | g); }",
              data, Box(4, {-3, 3}), [&](const Vec& t) { return closed_form(softmax(t)); });
  check_model("multinomial_lpmf of softmax",
              "data { array[4] int y; } parameters { vector[4] g; } model { target += multinomial_lpmf(y | softmax(g)); }",
              data, Box(4, {-3, 3}), [&](const Vec& t) { return closed_form(softmax(t)); });
  check_model("multinomial ~ drops the normaliser",
              "data { array[4] int y; } parameters { vector[4] g; } model { y ~ multinomial_logit(g); }", data,
              Box(4, {-3, 3}), [&](const Vec& t) {
                Vec p = softmax(t);
                double v = 0;
                for (size_t k = 0; k < y.size(); ++k) v += y[k] * std::log(p[k]);
                return v;
              });
  {  // theta_2 = 0 where y_2 = 0: finite
    auto m = make_model("data { array[4] int y; } parameters { real a; } "
                        "model { target += multinomial_lpmf(y | [0.2, 0, 0.5, 0.3]'); }",
                        data);
    BOOST_TEST(close_rel(lp(*m, {0.0}), closed_form({0.2, 0, 0.5, 0.3}), 1e-12));
  }
  std::string negative = user_error([] {
    auto m = make_model("data { array[2] int y; } parameters { vector[2] g; } model { y ~ multinomial_logit(g); }",
                        R"({"y": [2, -1]})");
    lp(*m, {0.0, 0.0});
  });
  BOOST_TEST(contains(negative, "must be non-negative"), negative);
  {  // probabilities that depend on parameters are checked when the density is evaluated (-inf off the simplex)
    auto m = make_model("data { array[2] int y; } parameters { real<lower=0> a; } model { y ~ multinomial([a, 0.5]'); }",
                        R"({"y": [2, 1]})");
    BOOST_TEST(lp(*m, {0.0}) == -INFINITY);                          // [1, 0.5]
    BOOST_TEST(close_rel(lp(*m, {std::log(0.5)}), 3 * std::log(0.5) + std::log(0.5), 1e-12));  // [0.5, 0.5], Jacobian log a
  }
  std::string simplex = user_error([] {
    auto m = make_model("data { array[2] int y; vector[2] p; } parameters { real a; } model { y ~ multinomial(p); }",
                        R"({"y": [2, 1], "p": [0.7, 0.6]})");
    lp(*m, {0.0});
  });
  BOOST_TEST(contains(simplex, "not a valid simplex"), simplex);
  std::string sizes = user_error([] {
    make_model("data { array[2] int y; } parameters { vector[3] g; } model { y ~ multinomial_logit(g); }",
               R"({"y": [2, 1]})");
  });
  BOOST_TEST(contains(sizes, "2 counts, but the parameter has 3 categories"), sizes);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Vectorised calls
// ============================================================================================

BOOST_AUTO_TEST_SUITE(densities_vectorised)

BOOST_AUTO_TEST_CASE(normal_vector_variate_scalar_params) {
  check_model("normal vector | scalar, scalar",
              "parameters { vector[3] y; real mu; real sigma; } model { target += normal_lpdf(y | mu, sigma); }", "{}",
              {{-3, 3}, {-3, 3}, {-3, 3}, {-1, 1}, {0.4, 2}}, [](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 3; ++i) s += std::log(bm::pdf(bm::normal(t[3], t[4]), t[i]));
                return s;
              });
}

BOOST_AUTO_TEST_CASE(normal_vector_variate_vector_params) {
  check_model("normal vector | vector, vector",
              "parameters { vector[3] y; vector[3] mu; vector[3] sigma; }\n"
              "model { target += normal_lpdf(y | mu, sigma); }",
              "{}", {{-3, 3}, {-3, 3}, {-3, 3}, {-1, 1}, {-1, 1}, {-1, 1}, {0.4, 2}, {0.4, 2}, {0.4, 2}},
              [](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 3; ++i) s += std::log(bm::pdf(bm::normal(t[3 + i], t[6 + i]), t[i]));
                return s;
              });
}

BOOST_AUTO_TEST_CASE(normal_scalar_variate_vector_param) {
  // A scalar variate broadcast against a vector location: three terms.
  check_model("normal scalar | vector, scalar",
              "parameters { real y; vector[3] mu; real sigma; } model { target += normal_lpdf(y | mu, sigma); }", "{}",
              {{-3, 3}, {-1, 1}, {-1, 1}, {-1, 1}, {0.4, 2}}, [](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 3; ++i) s += std::log(bm::pdf(bm::normal(t[1 + i], t[4]), t[0]));
                return s;
              });
}

BOOST_AUTO_TEST_CASE(data_variates_array_and_row_vector) {
  const std::string data = "{\"y\": [0.5, -1.25, 2.0, 0.1], \"n\": [0, 3, 1, 7]}";
  const Vec y{0.5, -1.25, 2.0, 0.1};
  const std::vector<int> n{0, 3, 1, 7};
  check_model("normal array data | vector param, scalar param",
              "data { array[4] real y; } parameters { vector[4] mu; real sigma; }\n"
              "model { target += normal_lpdf(y | mu, sigma); }",
              data, {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {0.5, 2}}, [&](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 4; ++i) s += std::log(bm::pdf(bm::normal(t[i], t[4]), y[i]));
                return s;
              });
  check_model("cauchy row_vector param | scalar, row_vector",
              "parameters { row_vector[4] y; real mu; row_vector[4] sigma; }\n"
              "model { target += cauchy_lpdf(y | mu, sigma); }",
              "{}", {{-2, 2}, {-2, 2}, {-2, 2}, {-2, 2}, {-1, 1}, {0.5, 2}, {0.5, 2}, {0.5, 2}, {0.5, 2}},
              [&](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 4; ++i) s += std::log(bm::pdf(bm::cauchy(t[4], t[5 + i]), t[i]));
                return s;
              });
  check_model("poisson array int | vector",
              "data { array[4] int n; } parameters { vector[4] lambda; } model { target += poisson_lpmf(n | lambda); }",
              data, {{0.2, 5}, {0.2, 5}, {0.2, 5}, {0.2, 5}}, [&](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 4; ++i) s += std::log(bm::pdf(bm::poisson(t[i]), n[i]));
                return s;
              });
  check_model("poisson_log array int | scalar",
              "data { array[4] int n; } parameters { real alpha; } model { target += poisson_log_lpmf(n | alpha); }",
              data, {{-1, 2}}, [&](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 4; ++i) s += std::log(bm::pdf(bm::poisson(std::exp(t[0])), n[i]));
                return s;
              });
  check_model("binomial array int | array int, vector",
              "data { array[4] int n; } transformed data { array[4] int N = {2, 5, 1, 9}; }\n"
              "parameters { vector[4] theta; } model { target += binomial_lpmf(n | N, theta); }",
              data, {{0.1, 0.9}, {0.1, 0.9}, {0.1, 0.9}, {0.1, 0.9}}, [&](const Vec& t) {
                const int N[] = {2, 5, 1, 9};
                double s = 0;
                for (int i = 0; i < 4; ++i) s += std::log(bm::pdf(bm::binomial(N[i], t[i]), n[i]));
                return s;
              });
  check_model("bernoulli_logit array int | vector",
              "data { array[4] int n; } transformed data { array[4] int b; for (i in 1:4) b[i] = n[i] % 2; }\n"
              "parameters { vector[4] alpha; } model { target += bernoulli_logit_lpmf(b | alpha); }",
              data, {{-3, 3}, {-3, 3}, {-3, 3}, {-3, 3}}, [&](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 4; ++i) s += std::log(bm::pdf(bm::bernoulli(inv_logit(t[i])), n[i] % 2));
                return s;
              });
}

BOOST_AUTO_TEST_CASE(every_continuous_density_vectorised) {
  // vector variate (parameter) with a vector first parameter and a scalar second one
  const Box box2{{0.2, 0.8}, {0.2, 0.8}, {0.5, 3}, {0.5, 3}, {0.5, 2}};
  auto sum2 = [](std::function<double(double y, double a, double b)> f) {
    return [f](const Vec& t) { return f(t[0], t[2], t[4]) + f(t[1], t[3], t[4]); };
  };
  auto model2 = [](const std::string& d) {
    return "parameters { vector[2] y; vector[2] a; real b; } model { target += " + d + "_lpdf(y | a, b); }";
  };
  check_model("gamma vectorised", model2("gamma"), "{}", box2,
              sum2([](double y, double a, double b) { return std::log(bm::pdf(bm::gamma_distribution<>(a, 1 / b), y)); }));
  check_model("inv_gamma vectorised", model2("inv_gamma"), "{}", box2,
              sum2([](double y, double a, double b) { return std::log(bm::pdf(bm::inverse_gamma(a, b), y)); }));
  check_model("beta vectorised", model2("beta"), "{}", box2,
              sum2([](double y, double a, double b) { return std::log(bm::pdf(bm::beta_distribution<>(a, b), y)); }));
  check_model("lognormal vectorised", model2("lognormal"), "{}", box2,
              sum2([](double y, double a, double b) { return std::log(bm::pdf(bm::lognormal(a, b), y)); }));
  check_model("uniform vectorised",
              "parameters { vector[2] y; vector[2] a; real b; } model { target += uniform_lpdf(y | a, b); }", "{}",
              {{0.2, 0.8}, {0.2, 0.8}, {-2, 0}, {-2, 0}, {1, 2}},
              sum2([](double y, double a, double b) { return std::log(bm::pdf(bm::uniform(a, b), y)); }));
  check_model("exponential vectorised",
              "parameters { vector[2] y; vector[2] beta; } model { target += exponential_lpdf(y | beta); }", "{}",
              {{0.2, 3}, {0.2, 3}, {0.5, 2}, {0.5, 2}}, [](const Vec& t) {
                return std::log(bm::pdf(bm::exponential(t[2]), t[0])) + std::log(bm::pdf(bm::exponential(t[3]), t[1]));
              });
  check_model("student_t vectorised",
              "parameters { vector[2] y; real nu; vector[2] mu; real sigma; }\n"
              "model { target += student_t_lpdf(y | nu, mu, sigma); }",
              "{}", {{-2, 2}, {-2, 2}, {1, 10}, {-1, 1}, {-1, 1}, {0.5, 2}}, [](const Vec& t) {
                double s = 0;
                for (int i = 0; i < 2; ++i) s += std::log(bm::pdf(bm::students_t(t[2]), (t[i] - t[3 + i]) / t[5]) / t[5]);
                return s;
              });
  check_model("std_normal vectorised", "parameters { vector[3] y; } model { target += std_normal_lpdf(y); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) {
                double s = 0;
                for (double y : t) s += std::log(bm::pdf(bm::normal(0, 1), y));
                return s;
              });
}

BOOST_AUTO_TEST_CASE(size_mismatch_is_a_user_error) {
  std::string msg = user_error([] {
    make_model("parameters { vector[3] y; vector[4] mu; } model { target += normal_lpdf(y | mu, 1); }");
  });
  BOOST_TEST(contains(msg, "test.lat:1:"), msg);
  BOOST_TEST(contains(msg, "size mismatch"), msg);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// `~` drops exactly the terms that do not depend on parameters; _lupdf likewise
// ============================================================================================

BOOST_AUTO_TEST_SUITE(tilde_semantics)

const std::string kY3 = "{\"y\": [0.5, -1.25, 2.0], \"s\": 1.7}";
const Vec kY{0.5, -1.25, 2.0};

BOOST_AUTO_TEST_CASE(normal_data_sigma) {
  // y ~ normal(mu, s), s data: drops -log(s) and -0.5 log(2 pi) per element.
  check_model("normal ~, data sigma",
              "data { vector[3] y; real s; } parameters { real mu; } model { y ~ normal(mu, s); }", kY3, {{-2, 2}},
              [](const Vec& t) {
                double full = 0;
                for (double y : kY) full += std::log(bm::pdf(bm::normal(t[0], 1.7), y));
                return full - 3 * (-std::log(1.7) - kLogSqrt2Pi);
              });
}

BOOST_AUTO_TEST_CASE(normal_param_sigma) {
  // sigma a parameter: only the constant -0.5 log(2 pi) per element goes.
  check_model("normal ~, parameter sigma",
              "data { vector[3] y; } parameters { real mu; real sigma; } model { y ~ normal(mu, sigma); }", kY3,
              {{-2, 2}, {0.3, 3}}, [](const Vec& t) {
                double full = 0;
                for (double y : kY) full += std::log(bm::pdf(bm::normal(t[0], t[1]), y));
                return full + 3 * kLogSqrt2Pi;
              });
}

BOOST_AUTO_TEST_CASE(normal_scalar_broadcast_constant) {
  // scalar parameter variate against a data vector location: 3 elements, 3 dropped constants
  check_model("normal ~ scalar variate, vector data location",
              "data { vector[3] y; real s; } parameters { real x; } model { x ~ normal(y, s); }", kY3, {{-2, 2}},
              [](const Vec& t) {
                double full = 0;
                for (double y : kY) full += std::log(bm::pdf(bm::normal(y, 1.7), t[0]));
                return full - 3 * (-std::log(1.7) - kLogSqrt2Pi);
              });
}

BOOST_AUTO_TEST_CASE(lupdf_equals_tilde_and_lpdf_keeps_all) {
  const std::string data = kY3;
  check_same("normal_lupdf == ~", "data { vector[3] y; real s; } parameters { real mu; } model { y ~ normal(mu, s); }",
             "data { vector[3] y; real s; } parameters { real mu; } model { target += normal_lupdf(y | mu, s); }", data,
             {{-2, 2}});
  check_model("normal_lpdf keeps constants",
              "data { vector[3] y; real s; } parameters { real mu; } model { target += normal_lpdf(y | mu, s); }", data,
              {{-2, 2}}, [](const Vec& t) {
                double full = 0;
                for (double y : kY) full += std::log(bm::pdf(bm::normal(t[0], 1.7), y));
                return full;
              });
  check_same("poisson_lupmf == ~",
             "data { array[3] int n; } parameters { real lambda; } model { n ~ poisson(lambda); }",
             "data { array[3] int n; } parameters { real lambda; } model { target += poisson_lupmf(n | lambda); }",
             "{\"n\": [1, 4, 0]}", {{0.5, 3}});
}

BOOST_AUTO_TEST_CASE(std_normal_tilde) {
  check_model("std_normal ~", "parameters { vector[3] y; } model { y ~ std_normal(); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) {
                double s = 0;
                for (double y : t) s += -0.5 * y * y;
                return s;
              });
}

BOOST_AUTO_TEST_CASE(cauchy_tilde) {
  check_model("cauchy ~ (mu, sigma parameters)",
              "data { vector[3] y; } parameters { real mu; real sigma; } model { y ~ cauchy(mu, sigma); }", kY3,
              {{-2, 2}, {0.3, 3}}, [](const Vec& t) {
                double full = 0;
                for (double y : kY) full += std::log(bm::pdf(bm::cauchy(t[0], t[1]), y));
                return full + 3 * std::log(M_PI);
              });
  check_model("cauchy ~ (sigma data)",
              "data { vector[3] y; } parameters { real mu; } model { y ~ cauchy(mu, 2.5); }", kY3, {{-2, 2}},
              [](const Vec& t) {
                double s = 0;
                for (double y : kY) s += -std::log1p(std::pow((y - t[0]) / 2.5, 2));
                return s;
              });
}

BOOST_AUTO_TEST_CASE(student_t_tilde) {
  // nu data: lgamma terms and -0.5 log(nu pi) are constants; -log(sigma) and the kernel stay.
  check_model("student_t ~ (nu data)",
              "data { vector[3] y; } parameters { real mu; real sigma; } model { y ~ student_t(4, mu, sigma); }", kY3,
              {{-2, 2}, {0.3, 3}}, [](const Vec& t) {
                double s = 0;
                for (double y : kY) s += -std::log(t[1]) - 2.5 * std::log1p(std::pow((y - t[0]) / t[1], 2) / 4);
                return s;
              });
  // nu a parameter: only -0.5 log(pi) per element goes
  check_model("student_t ~ (nu parameter)",
              "data { vector[3] y; } parameters { real nu; } model { y ~ student_t(nu, 0.5, 2); }", kY3, {{0.5, 20}},
              [](const Vec& t) {
                double full = 0;
                for (double y : kY) full += std::log(bm::pdf(bm::students_t(t[0]), (y - 0.5) / 2) / 2);
                return full + 3 * 0.5 * std::log(M_PI) + 3 * std::log(2.0);
              });
}

BOOST_AUTO_TEST_CASE(exponential_gamma_inv_gamma_beta_lognormal_tilde) {
  check_model("exponential ~ (beta data)", "parameters { real y; } model { y ~ exponential(1.5); }", "{}", {{0.1, 3}},
              [](const Vec& t) { return -1.5 * t[0]; });
  check_model("exponential ~ (beta parameter, y data)",
              "data { vector[3] y; } parameters { real b; } model { y ~ exponential(b); }",
              "{\"y\": [0.5, 1.25, 2.0]}", {{0.1, 3}},
              [](const Vec& t) { return 3 * std::log(t[0]) - t[0] * (0.5 + 1.25 + 2.0); });
  check_model("gamma ~ (a, b data)", "parameters { real y; } model { y ~ gamma(2.5, 1.5); }", "{}", {{0.1, 5}},
              [](const Vec& t) { return 1.5 * std::log(t[0]) - 1.5 * t[0]; });
  check_model("gamma ~ (y data, a, b parameters)",
              "data { real y; } parameters { real a; real b; } model { y ~ gamma(a, b); }", "{\"y\": 1.3}",
              {{0.5, 4}, {0.5, 4}},
              [](const Vec& t) { return std::log(bm::pdf(bm::gamma_distribution<>(t[0], 1 / t[1]), 1.3)); });
  check_model("inv_gamma ~ (a, b data)", "parameters { real y; } model { y ~ inv_gamma(2.5, 1.5); }", "{}",
              {{0.1, 5}}, [](const Vec& t) { return -3.5 * std::log(t[0]) - 1.5 / t[0]; });
  check_model("inv_gamma ~ (b parameter)", "parameters { real b; } model { 0.7 ~ inv_gamma(2.5, b); }", "{}",
              {{0.1, 5}}, [](const Vec& t) { return 2.5 * std::log(t[0]) - t[0] / 0.7; });
  check_model("beta ~ (a, b data)", "parameters { real y; } model { y ~ beta(2.5, 1.5); }", "{}", {{0.05, 0.95}},
              [](const Vec& t) { return 1.5 * std::log(t[0]) + 0.5 * std::log1p(-t[0]); });
  check_model("beta ~ (a parameter)", "parameters { real a; } model { 0.3 ~ beta(a, 2); }", "{}", {{0.5, 5}},
              [](const Vec& t) {
                return std::lgamma(t[0] + 2) - std::lgamma(t[0]) + (t[0] - 1) * std::log(0.3);
              });
  check_model("lognormal ~ (y data, sigma data)",
              "data { vector[3] y; } parameters { real mu; } model { y ~ lognormal(mu, 0.8); }",
              "{\"y\": [0.5, 1.25, 2.0]}", {{-1, 1}}, [](const Vec& t) {
                double s = 0;
                for (double y : {0.5, 1.25, 2.0}) s += -0.5 * std::pow((std::log(y) - t[0]) / 0.8, 2);
                return s;
              });
  check_model("lognormal ~ (y parameter)", "parameters { real y; } model { y ~ lognormal(0.2, 0.8); }", "{}",
              {{0.2, 4}}, [](const Vec& t) { return -std::log(t[0]) - 0.5 * std::pow((std::log(t[0]) - 0.2) / 0.8, 2); });
}

BOOST_AUTO_TEST_CASE(uniform_tilde) {
  check_model("uniform ~ (bounds data)", "parameters { real y; } model { y ~ uniform(-1, 3); }", "{}", {{-0.9, 2.9}},
              [](const Vec&) { return 0.0; });
  check_model("uniform ~ (upper bound parameter)", "parameters { real b; } model { 0.5 ~ uniform(0, b); }", "{}",
              {{1, 3}}, [](const Vec& t) { return -std::log(t[0]); });
  auto m = make_model("parameters { real y; } model { y ~ uniform(-1, 3); }");
  BOOST_TEST(lp(*m, {3.5}) == -INFINITY);
}

BOOST_AUTO_TEST_CASE(discrete_tilde) {
  const std::string data = "{\"n\": [1, 4, 0], \"N\": [3, 6, 2], \"b\": [1, 0, 1]}";
  check_model("poisson ~ drops lgamma(n + 1)",
              "data { array[3] int n; } parameters { real lambda; } model { n ~ poisson(lambda); }", data, {{0.5, 3}},
              [](const Vec& t) { return 5 * std::log(t[0]) - 3 * t[0]; });
  check_model("poisson_log ~ drops lgamma(n + 1)",
              "data { array[3] int n; } parameters { real a; } model { n ~ poisson_log(a); }", data, {{-1, 1}},
              [](const Vec& t) { return 5 * t[0] - 3 * std::exp(t[0]); });
  check_model("binomial ~ drops the binomial coefficient",
              "data { array[3] int n; array[3] int N; } parameters { real p; } model { n ~ binomial(N, p); }", data,
              {{0.1, 0.9}}, [](const Vec& t) { return 5 * std::log(t[0]) + 6 * std::log1p(-t[0]); });
  check_model("binomial_logit ~ drops the binomial coefficient",
              "data { array[3] int n; array[3] int N; } parameters { real a; } model { n ~ binomial_logit(N, a); }",
              data, {{-2, 2}}, [](const Vec& t) {
                double p = inv_logit(t[0]);
                return 5 * std::log(p) + 6 * std::log1p(-p);
              });
  check_model("bernoulli ~ keeps everything",
              "data { array[3] int b; } parameters { real p; } model { b ~ bernoulli(p); }", data, {{0.1, 0.9}},
              [](const Vec& t) { return 2 * std::log(t[0]) + std::log1p(-t[0]); });
  check_model("bernoulli_logit ~ keeps everything",
              "data { array[3] int b; } parameters { vector[3] a; } model { b ~ bernoulli_logit(a); }", data,
              {{-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) {
                return std::log(inv_logit(t[0])) + std::log1p(-inv_logit(t[1])) + std::log(inv_logit(t[2]));
              });
}

BOOST_AUTO_TEST_CASE(everything_data_contributes_nothing) {
  // A `~` statement without parameters adds nothing (every term is constant).
  check_model("all-data ~", "data { real y; } parameters { real x; } model { y ~ normal(0, 2); x ~ normal(0, 1); }",
              "{\"y\": 0.3}", {{-2, 2}}, [](const Vec& t) { return -0.5 * t[0] * t[0]; });
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Math functions
// ============================================================================================

BOOST_AUTO_TEST_SUITE(functions)

namespace {
// target += EXPR with one real parameter x (or two, x and y).
void unary_case(const std::string& expr, std::pair<double, double> range, std::function<double(double)> ref) {
  check_model(expr, "parameters { real x; } model { target += " + expr + "; }", "{}", {range},
              [ref](const Vec& t) { return ref(t[0]); }, 4, 1e-12);
  // elementwise on a vector, summed
  check_model(expr + " on vector[3]",
              "parameters { vector[3] x; } model { target += sum(" + expr + "); }", "{}", {range, range, range},
              [ref](const Vec& t) { return ref(t[0]) + ref(t[1]) + ref(t[2]); }, 2, 1e-12);
}
void binary_case(const std::string& expr, std::pair<double, double> rx, std::pair<double, double> ry,
                 std::function<double(double, double)> ref) {
  check_model(expr, "parameters { real x; real y; } model { target += " + expr + "; }", "{}", {rx, ry},
              [ref](const Vec& t) { return ref(t[0], t[1]); }, 5, 1e-12);
}
}  // namespace

BOOST_AUTO_TEST_CASE(unary_functions) {
  unary_case("exp(x)", {-3, 3}, [](double x) { return std::exp(x); });
  unary_case("log(x)", {0.05, 10}, [](double x) { return std::log(x); });
  unary_case("log1p(x)", {-0.9, 5}, [](double x) { return std::log1p(x); });
  unary_case("expm1(x)", {-3, 3}, [](double x) { return std::expm1(x); });
  unary_case("sqrt(x)", {0.05, 10}, [](double x) { return std::sqrt(x); });
  unary_case("square(x)", {-3, 3}, [](double x) { return x * x; });
  unary_case("inv(x)", {0.2, 5}, [](double x) { return 1 / x; });
  unary_case("inv_sqrt(x)", {0.2, 5}, [](double x) { return 1 / std::sqrt(x); });
  unary_case("inv_logit(x)", {-5, 5}, [](double x) { return 1 / (1 + std::exp(-x)); });
  unary_case("logit(x)", {0.02, 0.98}, [](double x) { return std::log(x / (1 - x)); });
  unary_case("log_inv_logit(x)", {-5, 5}, [](double x) { return -std::log1p(std::exp(-x)); });
  unary_case("log1m_inv_logit(x)", {-5, 5}, [](double x) { return -std::log1p(std::exp(x)); });
  unary_case("log1m(x)", {-3, 0.95}, [](double x) { return std::log1p(-x); });
  unary_case("log1p_exp(x)", {-5, 5}, [](double x) { return std::log1p(std::exp(x)); });
  unary_case("lgamma(x)", {0.1, 8}, [](double x) { return std::lgamma(x); });
  unary_case("digamma(x)", {0.1, 8}, [](double x) { return bm::digamma(x); });
  unary_case("tanh(x)", {-3, 3}, [](double x) { return std::tanh(x); });
  unary_case("fabs(x)", {-3, 3}, [](double x) { return std::fabs(x); });
  unary_case("abs(x)", {-3, 3}, [](double x) { return std::fabs(x); });
}

BOOST_AUTO_TEST_CASE(unary_functions_extreme_arguments) {
  // Values where naive formulas lose everything.
  auto m = make_model("parameters { real x; } model { target += log1m_inv_logit(x) + log_inv_logit(-x); }");
  BOOST_TEST(close_rel(lp(*m, {50}), -2 * (50 + std::log1p(std::exp(-50.0))), 1e-14));
  BOOST_TEST(close_rel(lp(*m, {-50}), -2 * std::log1p(std::exp(-50.0)), 1e-12));
  auto l = make_model("parameters { real x; } model { target += log1p_exp(x); }");
  BOOST_TEST(close_rel(lp(*l, {800}), 800.0, 1e-15));
  BOOST_TEST(close_rel(lp(*l, {-800}), 0.0, 1e-15));
  Vec g = gradient(*l, {800});
  BOOST_TEST(close(g[0], 1.0, 1e-15));
  auto e = make_model("parameters { real x; } model { target += expm1(x) + log1p(x); }");
  BOOST_TEST(close_rel(lp(*e, {1e-10}), std::expm1(1e-10) + std::log1p(1e-10), 1e-14));
}

BOOST_AUTO_TEST_CASE(binary_functions) {
  binary_case("pow(x, y)", {0.2, 3}, {-2, 2.5}, [](double x, double y) { return std::pow(x, y); });
  binary_case("x ^ y", {0.2, 3}, {-2, 2.5}, [](double x, double y) { return std::pow(x, y); });
  binary_case("pow(x, 3)", {-3, 3}, {-1, 1}, [](double x, double) { return x * x * x; });
  binary_case("fmin(x, y)", {-3, 3}, {-3, 3}, [](double x, double y) { return std::fmin(x, y); });
  binary_case("fmax(x, y)", {-3, 3}, {-3, 3}, [](double x, double y) { return std::fmax(x, y); });
  binary_case("log_sum_exp(x, y)", {-5, 5}, {-5, 5},
              [](double x, double y) { return std::log(std::exp(x) + std::exp(y)); });
  binary_case("log_mix(inv_logit(x), y, -y * y)", {-3, 3}, {-2, 2}, [](double x, double y) {
    double t = inv_logit(x);
    return std::log(t * std::exp(y) + (1 - t) * std::exp(-y * y));
  });
  binary_case("max(x, y) + min(x, y) * 2", {-3, 3}, {-3, 3},
              [](double x, double y) { return std::max(x, y) + 2 * std::min(x, y); });
  // vectorised binary: a vector with a scalar
  check_model("pow(vector, scalar)", "parameters { vector[2] x; real y; } model { target += sum(pow(x, y)); }", "{}",
              {{0.5, 2}, {0.5, 2}, {-1, 2}},
              [](const Vec& t) { return std::pow(t[0], t[2]) + std::pow(t[1], t[2]); }, 3, 1e-12);
  check_model("fmax(vector, vector)",
              "parameters { vector[2] x; vector[2] y; } model { target += sum(fmax(x, y)); }", "{}",
              {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}},
              [](const Vec& t) { return std::fmax(t[0], t[2]) + std::fmax(t[1], t[3]); }, 3, 1e-12);
}

BOOST_AUTO_TEST_CASE(log_sum_exp_containers) {
  check_model("log_sum_exp(vector)", "parameters { vector[4] v; } model { target += log_sum_exp(v); }", "{}",
              {{-5, 5}, {-5, 5}, {-5, 5}, {-5, 5}}, [](const Vec& t) {
                double s = 0;
                for (double x : t) s += std::exp(x);
                return std::log(s);
              }, 4, 1e-12);
  check_model("log_sum_exp(row_vector)", "parameters { row_vector[2] v; } model { target += log_sum_exp(v); }", "{}",
              {{-5, 5}, {-5, 5}}, [](const Vec& t) { return std::log(std::exp(t[0]) + std::exp(t[1])); }, 3, 1e-12);
  check_model("log_sum_exp(array)", "parameters { array[3] real v; } model { target += log_sum_exp(v); }", "{}",
              {{-5, 5}, {-5, 5}, {-5, 5}},
              [](const Vec& t) { return std::log(std::exp(t[0]) + std::exp(t[1]) + std::exp(t[2])); }, 3, 1e-12);
  // large values do not overflow
  auto m = make_model("parameters { vector[2] v; } model { target += log_sum_exp(v); }");
  BOOST_TEST(close_rel(lp(*m, {1000, 1000}), 1000 + std::log(2.0), 1e-15));
  Vec g = gradient(*m, {1000, 999});
  BOOST_TEST(close(g[0], 1 / (1 + std::exp(-1.0)), 1e-14));
  BOOST_TEST(close(g[1], 1 / (1 + std::exp(1.0)), 1e-14));
  // log_sum_exp with a -inf element in data
  auto d = make_model("data { vector[2] w; } parameters { real x; } model { target += log_sum_exp(w) + x; }",
                      "{\"w\": [\"-inf\", 0.5]}");
  BOOST_TEST(close(lp(*d, {0.0}), 0.5, 1e-15));
}

BOOST_AUTO_TEST_CASE(log_sum_exp_and_log_mix_with_infinite_arguments) {
  // Stan: log_sum_exp(-inf, x) = x, log_mix(0, a, b) = b, log_mix(1, a, b) = a, with finite derivatives.
  struct Case {
    std::string expr;
    double want, dwant;  // at x = 0.5
  };
  for (const Case& c : std::vector<Case>{{"log_sum_exp(x, negative_infinity())", 0.5, 1},
                                         {"log_sum_exp(negative_infinity(), x)", 0.5, 1},
                                         {"log_mix(1, x, -1)", 0.5, 1},
                                         {"log_mix(0, -1, x)", 0.5, 1},
                                         {"log_sum_exp({negative_infinity(), x})", 0.5, 1}}) {
    BOOST_TEST_CONTEXT(c.expr) {
      auto m = make_model("parameters { real x; } model { target += " + c.expr + "; }");
      double v = 0;
      Vec g = gradient(*m, {0.5}, true, &v);
      BOOST_TEST(v == c.want);
      BOOST_TEST(g[0] == c.dwant);
    }
  }
  // every element -inf: -inf (not NaN)
  auto m = make_model("data { vector[2] w; } parameters { real x; } model { target += log_sum_exp(w) + x; }",
                      "{\"w\": [\"-inf\", \"-inf\"]}");
  BOOST_TEST(lp(*m, {0.0}) == -INFINITY);
}

BOOST_AUTO_TEST_CASE(log_mix_checks_theta) {
  auto m = make_model("parameters { real t; } model { target += log_mix(t, -1, -2); }");
  EvalContext ctx;
  double v = m->log_density(Vec{1.5}.data(), nullptr, true, &ctx);
  BOOST_TEST(!std::isfinite(v));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "log_mix"), ctx.failure_text());
  BOOST_TEST(close(lp(*m, {0.25}), std::log(0.25 * std::exp(-1.0) + 0.75 * std::exp(-2.0)), 1e-14));
}

BOOST_AUTO_TEST_CASE(reductions) {
  check_model("sum(vector)", "parameters { vector[3] v; } model { target += sum(v) * sum(v); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) { return std::pow(t[0] + t[1] + t[2], 2); }, 3, 1e-12);
  check_model("sum(matrix)", "parameters { matrix[2, 2] A; } model { target += square(sum(A)); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) { return std::pow(t[0] + t[1] + t[2] + t[3], 2); },
              3, 1e-12);
  check_model("mean(vector)", "parameters { vector[3] v; } model { target += exp(mean(v)); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) { return std::exp((t[0] + t[1] + t[2]) / 3); }, 3, 1e-12);
  check_model("mean(array)", "parameters { array[4] real v; } model { target += exp(mean(v)); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}, {-2, 2}},
              [](const Vec& t) { return std::exp((t[0] + t[1] + t[2] + t[3]) / 4); }, 3, 1e-12);
  // max/min of data containers; sum of an int array is an int
  check_model("max/min/sum of data",
              "data { vector[3] d; array[3] int k; } parameters { real x; }\n"
              "model { target += x * max(d) + x * x * min(d) + sum(k) * x * x * x + max(k) - min(k); }",
              "{\"d\": [0.5, -2, 1.5], \"k\": [3, -1, 4]}", {{-2, 2}},
              [](const Vec& t) { return t[0] * 1.5 - 2 * t[0] * t[0] + 6 * std::pow(t[0], 3) + 5; }, 3, 1e-12);
  // max/min of parameters: the extreme element, its gradient to that element.
  check_model("max/min of parameters", "parameters { vector[3] v; } model { target += max(v) + 2 * min(v); }", "{}",
              {{-2, 2}, {-2, 2}, {-2, 2}},
              [](const Vec& t) { return *std::max_element(t.begin(), t.end()) + 2 * *std::min_element(t.begin(), t.end()); },
              4, 1e-12);
  check_model("prod", "parameters { vector[3] v; } model { target += prod(v); }", "{}", {{-2, 2}, {-2, 2}, {-2, 2}},
              [](const Vec& t) { return t[0] * t[1] * t[2]; }, 6, 1e-12);
  check_model("prod of an array", "parameters { array[2] real v; } model { target += prod(v) + prod({1.5, -2.0}); }",
              "{}", {{-2, 2}, {-2, 2}}, [](const Vec& t) { return t[0] * t[1] - 3; }, 4, 1e-12);
  check_model("variance and sd",
              "parameters { vector[4] v; } model { target += variance(v) + sd(v) + sd(v[1:1]); }", "{}", Box(4, {-2, 2}),
              [](const Vec& t) {
                double m = (t[0] + t[1] + t[2] + t[3]) / 4, ss = 0;
                for (double x : t) ss += (x - m) * (x - m);
                return ss / 3 + std::sqrt(ss / 3);
              },
              4, 1e-12);
  check_model("dot_self, log10, log2",
              "parameters { vector[2] v; real x; } model { target += dot_self(v) + log10(exp(x)) + log2(exp(x)); }", "{}",
              {{-2, 2}, {-2, 2}, {-1, 1}},
              [](const Vec& t) {
                double x = std::exp(t[2]);
                return t[0] * t[0] + t[1] * t[1] + std::log10(x) + std::log2(x);
              },
              4, 1e-12);
}

BOOST_AUTO_TEST_CASE(diagonal_matrices) {
  // diag_matrix(v) * w = v .* w; diag_pre_multiply(v, M) = diag_matrix(v) * M; diag_post_multiply(M, v) = M * diag_matrix(v).
  check_model("diag_matrix", "parameters { vector[3] v; } model { target += sum(diag_matrix(v) * [1, -2, 0.5]') + sum(diag_matrix(v)); }",
              "{}", Box(3, {-2, 2}), [](const Vec& t) { return t[0] - 2 * t[1] + 0.5 * t[2] + t[0] + t[1] + t[2]; }, 3, 1e-12);
  const std::string decls = "parameters { vector[2] v; matrix[2, 3] m; vector[3] w; }\n";
  check_same("diag_pre_multiply", decls + "model { target += sum(diag_pre_multiply(v, m) .* [[1, 2, 3], [-1, 0.5, 2]]); }",
             decls + "model { target += sum((diag_matrix(v) * m) .* [[1, 2, 3], [-1, 0.5, 2]]); }", "{}", Box(11, {-2, 2}));
  check_same("diag_post_multiply", decls + "model { target += sum(diag_post_multiply(m, w) .* [[1, 2, 3], [-1, 0.5, 2]]); }",
             decls + "model { target += sum((m * diag_matrix(w)) .* [[1, 2, 3], [-1, 0.5, 2]]); }", "{}", Box(11, {-2, 2}));
}

BOOST_AUTO_TEST_CASE(dot_products) {
  check_model("dot_product(vector, vector)",
              "parameters { vector[3] a; vector[3] b; } model { target += dot_product(a, b); }", "{}",
              Box(6, {-2, 2}), [](const Vec& t) { return t[0] * t[3] + t[1] * t[4] + t[2] * t[5]; }, 3, 1e-12);
  check_model("dot_product(row_vector, vector)",
              "parameters { row_vector[2] a; vector[2] b; } model { target += dot_product(a, b); }", "{}",
              Box(4, {-2, 2}), [](const Vec& t) { return t[0] * t[2] + t[1] * t[3]; }, 3, 1e-12);
  check_model("dot_product(array, array)",
              "parameters { array[2] real a; array[2] real b; } model { target += dot_product(a, b); }", "{}",
              Box(4, {-2, 2}), [](const Vec& t) { return t[0] * t[2] + t[1] * t[3]; }, 3, 1e-12);
  check_model("row_vector * vector, multiply(row_vector, vector)",
              "parameters { row_vector[2] r; vector[2] v; } model { target += r * v + 2 * multiply(r, v); }", "{}",
              Box(4, {-2, 2}), [](const Vec& t) { return 3 * (t[0] * t[2] + t[1] * t[3]); }, 3, 1e-12);
  check_model("dot_product(data vector, parameter vector)",
              "data { vector[3] c; } parameters { vector[3] a; } model { target += dot_product(c, a); }",
              "{\"c\": [1, 2, 3]}", Box(3, {-2, 2}), [](const Vec& t) { return t[0] + 2 * t[1] + 3 * t[2]; }, 2,
              1e-12);
  // rows_dot_product(A, B)[i] = sum_j A[i, j] B[i, j]; matrices are column-major in theta.
  check_model("rows_dot_product(matrix, matrix)",
              "data { vector[2] c; } parameters { matrix[2, 3] A; matrix[2, 3] B; }\n"
              "model { target += sum(c .* rows_dot_product(A, B)); }",
              "{\"c\": [1.5, -0.7]}", Box(12, {-2, 2}), [](const Vec& t) {
                auto A = [&](int i, int j) { return t[j * 2 + i]; };
                auto B = [&](int i, int j) { return t[6 + j * 2 + i]; };
                const double c[] = {1.5, -0.7};
                double s = 0;
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 3; ++j) s += c[i] * A(i, j) * B(i, j);
                return s;
              }, 3, 1e-12);
  check_model("columns_dot_product(matrix, matrix)",
              "data { row_vector[3] c; } parameters { matrix[2, 3] A; matrix[2, 3] B; }\n"
              "model { target += sum(c .* columns_dot_product(A, B)); }",
              "{\"c\": [1.5, -0.7, 0.3]}", Box(12, {-2, 2}), [](const Vec& t) {
                auto A = [&](int i, int j) { return t[j * 2 + i]; };
                auto B = [&](int i, int j) { return t[6 + j * 2 + i]; };
                const double c[] = {1.5, -0.7, 0.3};
                double s = 0;
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 3; ++j) s += c[j] * A(i, j) * B(i, j);
                return s;
              }, 3, 1e-12);
  check_model("rows_dot_product(vector, vector)",
              "data { vector[2] c; } parameters { vector[2] a; vector[2] b; }\n"
              "model { target += sum(c .* rows_dot_product(a, b)); }",
              "{\"c\": [1.5, -0.7]}", Box(4, {-2, 2}),
              [](const Vec& t) { return 1.5 * t[0] * t[2] - 0.7 * t[1] * t[3]; }, 3, 1e-12);
}

BOOST_AUTO_TEST_CASE(multiply_and_transpose) {
  // multiply(A, v) with A 2x3 (column-major in theta), v vector[3]
  check_model("multiply(matrix, vector)",
              "data { vector[2] c; } parameters { matrix[2, 3] A; vector[3] v; }\n"
              "model { target += sum(c .* multiply(A, v)); }",
              "{\"c\": [1.5, -0.7]}", Box(9, {-2, 2}), [](const Vec& t) {
                const double c[] = {1.5, -0.7};
                double s = 0;
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 3; ++j) s += c[i] * t[j * 2 + i] * t[6 + j];
                return s;
              }, 3, 1e-12);
  check_model("multiply(row_vector, matrix)",
              "data { row_vector[3] c; } parameters { row_vector[2] r; matrix[2, 3] A; }\n"
              "model { target += sum(c .* multiply(r, A)); }",
              "{\"c\": [1.5, -0.7, 0.3]}", Box(8, {-2, 2}), [](const Vec& t) {
                const double c[] = {1.5, -0.7, 0.3};
                double s = 0;
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 3; ++j) s += c[j] * t[i] * t[2 + j * 2 + i];
                return s;
              }, 3, 1e-12);
  check_model("multiply(matrix, matrix)",
              "data { matrix[2, 2] W; } parameters { matrix[2, 3] A; matrix[3, 2] B; }\n"
              "model { target += sum(multiply(A, B) .* W); }",
              "{\"W\": [[1, 2], [-3, 0.5]]}", Box(12, {-2, 2}), [](const Vec& t) {
                const double W[2][2] = {{1, 2}, {-3, 0.5}};
                double s = 0;
                for (int i = 0; i < 2; ++i)
                  for (int k = 0; k < 2; ++k)
                    for (int j = 0; j < 3; ++j) s += W[i][k] * t[j * 2 + i] * t[6 + k * 3 + j];
                return s;
              }, 3, 1e-12);
  check_model("multiply(real, real), real * vector, row_vector * real",
              "parameters { real a; row_vector[2] r; vector[2] v; }\n"
              "model { target += multiply(a, a) + sum(multiply(a, v)) + sum(multiply(r, a)); }",
              "{}", Box(5, {-2, 2}), [](const Vec& t) {
                double a = t[0], r0 = t[1], r1 = t[2], v0 = t[3], v1 = t[4];
                return a * a + a * (v0 + v1) + a * (r0 + r1);
              }, 3, 1e-12);
  check_model("multiply(vector, row_vector): outer product",
              "data { matrix[2, 2] W; } parameters { row_vector[2] r; vector[2] v; }\n"
              "model { target += sum(multiply(v, r) .* W); }",
              "{\"W\": [[1, 2], [-3, 0.5]]}", Box(4, {-2, 2}), [](const Vec& t) {
                const double W[2][2] = {{1, 2}, {-3, 0.5}};
                double s = 0;
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 2; ++j) s += W[i][j] * t[2 + i] * t[j];
                return s;
              }, 3, 1e-12);
  // transpose, then to_vector (column-major): the elements of A in row-major order
  check_model("transpose(matrix) and to_vector",
              "data { vector[6] c; } parameters { matrix[2, 3] A; }\n"
              "model { target += sum(c .* to_vector(transpose(A))); }",
              "{\"c\": [1, 2, 3, 4, 5, 6]}", Box(6, {-2, 2}), [](const Vec& t) {
                double s = 0;
                int k = 0;
                for (int i = 0; i < 2; ++i)
                  for (int j = 0; j < 3; ++j) s += (++k) * t[j * 2 + i];
                return s;
              }, 3, 1e-12);
  check_model("transpose(vector) is a row_vector",
              "parameters { vector[2] v; row_vector[2] r; }\n"
              "model { row_vector[2] tv = transpose(v); vector[2] tr = transpose(r);\n"
              "        target += tv[1] * tr[1] + 3 * tv[2] * tr[2]; }",
              "{}", Box(4, {-2, 2}), [](const Vec& t) { return t[0] * t[2] + 3 * t[1] * t[3]; }, 3, 1e-12);
  check_model("transpose(matrix) by index",
              "parameters { matrix[2, 3] A; }\n"
              "model { matrix[3, 2] B = transpose(A); target += B[1, 2] + 2 * B[3, 1] + 3 * square(B[2, 2]); }",
              "{}", Box(6, {-2, 2}), [](const Vec& t) {
                auto A = [&](int i, int j) { return t[(j - 1) * 2 + (i - 1)]; };
                return A(2, 1) + 2 * A(1, 3) + 3 * A(2, 2) * A(2, 2);
              }, 3, 1e-12);
}

BOOST_AUTO_TEST_CASE(conversions_and_constructors) {
  check_model("to_vector(matrix) is column-major",
              "data { vector[6] c; } parameters { matrix[2, 3] A; } model { target += sum(c .* to_vector(A)); }",
              "{\"c\": [1, 2, 3, 4, 5, 6]}", Box(6, {-2, 2}), [](const Vec& t) {
                double s = 0;
                for (int k = 0; k < 6; ++k) s += (k + 1) * t[k];
                return s;
              }, 3, 1e-12);
  check_model("to_vector(array), to_vector(row_vector), to_row_vector",
              "data { vector[2] c; } parameters { array[2] real a; row_vector[2] r; vector[2] v; }\n"
              "model { target += sum(c .* to_vector(a)) + sum(c .* (to_vector(r) .* to_vector(r)))\n"
              "                  + sum(to_row_vector(v) .* to_row_vector(c)); }",
              "{\"c\": [1.5, -0.5]}", Box(6, {-2, 2}), [](const Vec& t) {
                return 1.5 * t[0] - 0.5 * t[1] + 1.5 * t[2] * t[2] - 0.5 * t[3] * t[3] + 1.5 * t[4] - 0.5 * t[5];
              }, 3, 1e-12);
  check_model("to_vector(int array)",
              "data { array[3] int k; } parameters { vector[3] v; } model { target += sum(to_vector(k) .* v); }",
              "{\"k\": [2, -1, 5]}", Box(3, {-2, 2}),
              [](const Vec& t) { return 2 * t[0] - t[1] + 5 * t[2]; }, 2, 1e-12);
  check_model("rep_vector, rep_row_vector",
              "data { vector[3] c; } parameters { real x; }\n"
              "model { target += sum(c .* rep_vector(x, 3)) + sum(rep_row_vector(x * x, 3) .* to_row_vector(c)); }",
              "{\"c\": [1, 2, 4]}", {{-2, 2}}, [](const Vec& t) { return 7 * t[0] + 7 * t[0] * t[0]; }, 3, 1e-12);
  check_model("rep_matrix",
              "parameters { real x; } model { matrix[2, 3] M = rep_matrix(x, 2, 3); target += sum(M) + M[2, 3] * x; }",
              "{}", {{-2, 2}}, [](const Vec& t) { return 6 * t[0] + t[0] * t[0]; }, 3, 1e-12);
  // A vector as columns, a row_vector as rows: M[i, j] = v[i] and R[i, j] = r[j].
  check_model("rep_matrix of a vector and of a row_vector",
              "parameters { vector[2] v; row_vector[3] r; }\n"
              "model { matrix[2, 4] M = rep_matrix(v, 4); matrix[5, 3] R = rep_matrix(r, 5);\n"
              "        target += M[2, 3] * v[1] + sum(M) + R[4, 2] * R[1, 3] + sum(R); }",
              "{}", {{-2, 2}, {-2, 2}, {-2, 2}, {-2, 2}, {-2, 2}},
              [](const Vec& t) {
                return t[1] * t[0] + 4 * (t[0] + t[1]) + t[3] * t[4] + 5 * (t[2] + t[3] + t[4]);
              },
              3, 1e-12);
  check_model("rep_array",
              "parameters { real x; }\n"
              "model { array[2, 3] real a = rep_array(x, 2, 3); array[4] real b = rep_array(x * x, 4);\n"
              "        target += a[2, 3] + a[1, 1] * x + sum(b); }",
              "{}", {{-2, 2}}, [](const Vec& t) { return t[0] + t[0] * t[0] + 4 * t[0] * t[0]; }, 3, 1e-12);
}

BOOST_AUTO_TEST_CASE(sizes) {
  check_model("size, num_elements, rows, cols",
              "data { array[4] real a; matrix[2, 3] M; array[2, 5] real b; } parameters { real x; }\n"
              "model { target += size(a) * x + num_elements(M) * x * x + size(b) * x * x * x\n"
              "                  + num_elements(b) + rows(M) * 100 + cols(M) * 1000 + size(M) * 10000; }",
              "{\"a\": [1, 2, 3, 4], \"M\": [[1, 2, 3], [4, 5, 6]], \"b\": [[1,2,3,4,5],[1,2,3,4,5]]}", {{-2, 2}},
              [](const Vec& t) {
                double x = t[0];
                return 4 * x + 6 * x * x + 2 * x * x * x + 10 + 200 + 3000 + 60000;
              }, 3, 1e-12);
}

BOOST_AUTO_TEST_CASE(generated_quantities_values) {
  auto m = make_model(
      "parameters { real x; }\n"
      "model { x ~ normal(0, 1); }\n"
      "generated quantities {\n"
      "  real e1 = exp(x); real l1 = log1p(x * x); real lg = lgamma(x + 3); real dg = digamma(x + 3);\n"
      "  real c = pi() + e() + sqrt2();\n"
      "  real pinf = positive_infinity(); real ninf = negative_infinity(); real nan = not_a_number();\n"
      "  int n = size({1, 2, 3}); int mx = max(4, 7); real mn = min(2.5, 1);\n"
      "}");
  Vec theta{0.7};
  BOOST_TEST(close_rel(output(*m, theta, "x"), 0.7, 1e-15));
  BOOST_TEST(close_rel(output(*m, theta, "e1"), std::exp(0.7), 1e-15));
  BOOST_TEST(close_rel(output(*m, theta, "l1"), std::log1p(0.49), 1e-15));
  BOOST_TEST(close_rel(output(*m, theta, "lg"), std::lgamma(3.7), 1e-14));
  BOOST_TEST(close_rel(output(*m, theta, "dg"), bm::digamma(3.7), 1e-14));
  BOOST_TEST(close_rel(output(*m, theta, "c"), M_PI + M_E + M_SQRT2, 1e-15));
  BOOST_TEST(output(*m, theta, "pinf") == INFINITY);
  BOOST_TEST(output(*m, theta, "ninf") == -INFINITY);
  BOOST_TEST(std::isnan(output(*m, theta, "nan")));
  BOOST_TEST(output(*m, theta, "n") == 3.0);
  BOOST_TEST(output(*m, theta, "mx") == 7.0);
  BOOST_TEST(output(*m, theta, "mn") == 1.0);
}

BOOST_AUTO_TEST_CASE(abs_of_int_is_int) {
  // Stan: int abs(int). The library's lowering keeps ints as ints, so the type must be int too.
  auto m = make_model(
      "parameters { real x; } model { x ~ normal(0, 1); }\n"
      "generated quantities { int k = abs(-3); array[2] int ks = abs({-1, 2}); }");
  BOOST_TEST(output(*m, {0.0}, "k") == 3.0);
  BOOST_TEST(output(*m, {0.0}, "ks.1") == 1.0);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Argument checks
// ============================================================================================

BOOST_AUTO_TEST_SUITE(argument_checks)

BOOST_AUTO_TEST_CASE(normal_nonpositive_scale) {
  auto m = make_model("parameters { real y; real sigma; }\nmodel {\n  target += normal_lpdf(y | 0, sigma);\n}");
  for (double s : {-1.0, 0.0}) {
    Vec theta{0.3, s}, g(2);
    EvalContext ctx;
    double v = m->log_density(theta.data(), g.data(), true, &ctx);
    BOOST_TEST(!std::isfinite(v), "sigma = " << s << ": " << v);
    BOOST_TEST(ctx.failed);
    std::string text = ctx.failure_text();
    BOOST_TEST(contains(text, "scale parameter"), text);
    BOOST_TEST(contains(text, "test.lat:3:"), text);
    // the context is reusable: a valid point after reset succeeds
    ctx.reset();
    Vec ok{0.3, 1.0};
    double v2 = m->log_density(ok.data(), g.data(), true, &ctx);
    BOOST_TEST(!ctx.failed);
    BOOST_TEST(close(v2, std::log(bm::pdf(bm::normal(0, 1), 0.3)), 1e-12));
  }
  // with ~ as well, and with a vector of scales (one bad element)
  auto v = make_model("data { vector[3] y; } parameters { vector[3] s; } model { y ~ normal(0, s); }",
                      "{\"y\": [1, 2, 3]}");
  EvalContext ctx;
  Vec theta{1.0, -2.0, 0.5};
  BOOST_TEST(!std::isfinite(v->log_density(theta.data(), nullptr, true, &ctx)));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "scale parameter"), ctx.failure_text());
}

BOOST_AUTO_TEST_CASE(other_domains) {
  struct Case {
    std::string model;
    Vec theta;
    std::string expect;
  };
  std::vector<Case> cases{
      {"parameters { real y; real nu; } model { target += student_t_lpdf(y | nu, 0, 1); }", {0.5, -1},
       "degrees of freedom"},
      {"parameters { real y; real b; } model { target += exponential_lpdf(y | b); }", {0.5, -1}, "inverse scale"},
      {"parameters { real y; real b; } model { target += exponential_lpdf(y | b); }", {-0.5, 1}, "random variable"},
      {"parameters { real y; real a; } model { target += gamma_lpdf(y | a, 1); }", {0.5, 0}, "shape parameter"},
      {"parameters { real y; } model { target += beta_lpdf(y | 2, 2); }", {1.5}, "random variable"},
      {"parameters { real y; real s; } model { target += lognormal_lpdf(y | 0, s); }", {1, -1}, "scale parameter"},
      {"parameters { real y; real s; } model { target += cauchy_lpdf(y | 0, s); }", {1, 0}, "scale parameter"},
      {"parameters { real mu; } model { target += normal_lpdf(1 | mu, 1); }", {INFINITY}, "location parameter"},
      {"data { int n; } parameters { real p; } model { target += bernoulli_lpmf(n | p); }", {1.5}, "probability"},
      {"data { int n; } parameters { real p; } model { n ~ binomial(10, p); }", {-0.1}, "probability"},
      {"data { int n; } parameters { real l; } model { n ~ poisson(l); }", {-0.1}, "rate parameter"},
  };
  for (auto& c : cases) {
    BOOST_TEST_CONTEXT(c.model) {
      auto m = make_model(c.model, "{\"n\": 1}");
      EvalContext ctx;
      double v = m->log_density(c.theta.data(), nullptr, true, &ctx);
      BOOST_TEST(!std::isfinite(v), v);
      BOOST_TEST(ctx.failed);
      BOOST_TEST(contains(ctx.failure_text(), c.expect), ctx.failure_text());
    }
  }
}

BOOST_AUTO_TEST_CASE(constant_bad_arguments_are_user_errors) {
  // A check on constants fails when the model is built, at the call's file:line:col.
  std::string msg = user_error([] {
    make_model("parameters { real y; }\nmodel {\n  y ~ normal(0, -1);\n}");
  });
  BOOST_TEST(contains(msg, "scale parameter"), msg);
  BOOST_TEST(contains(msg, "test.lat:3:"), msg);
  // bad data outcome for a discrete distribution
  std::string msg2 = user_error([] {
    make_model("data { int n; } parameters { real p; } model { n ~ bernoulli(p); }", "{\"n\": 2}");
  });
  BOOST_TEST(contains(msg2, "must be 0 or 1"), msg2);
}

BOOST_AUTO_TEST_CASE(type_errors_at_check_time) {
  auto checked = [](const std::string& text) {
    auto src = std::make_shared<SourceFile>(SourceFile{"test.lat", text});
    auto prog = parse_program(src);
    check_program(*prog);
  };
  std::string a = user_error([&] { checked("parameters { real y; } model { y ~ normal(0); }"); });
  BOOST_TEST(contains(a, "normal"), a);
  std::string b = user_error([&] { checked("parameters { real y; } model { target += poisson_lpdf(3 | y); }"); });
  BOOST_TEST(contains(b, "poisson_lpmf"), b);
  std::string c = user_error([&] { checked("parameters { real y; } model { target += foo_lpdf(y | 1); }"); });
  BOOST_TEST(contains(c, "foo"), c);
  std::string d = user_error([&] { checked("parameters { real y; } model { target += exp(y, y); }"); });
  BOOST_TEST(contains(d, "exp"), d);
}

BOOST_AUTO_TEST_SUITE_END()
