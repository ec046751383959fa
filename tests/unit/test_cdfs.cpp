// Log CDFs of the univariate distributions, truncation T[L, U], and the
// elementwise functions added with them (stdlib/distributions.cpp,
// compiler/lower/lower_statements.cpp truncation, compiler/ir/ops.def): values
// against R's p* functions (log.p = TRUE; kept here as numbers), gradients
// against finite differences, truncated densities against their closed forms,
// and the errors.
#define BOOST_TEST_MODULE cdfs
#include "tests/support/model_fixture.hpp"

#include <cmath>
#include <random>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;

struct CdfCase {
  const char* dist;
  double y;
  Vec params;
  double lcdf, lccdf;  // R: p<dist>(y, ..., log.p = TRUE), and with lower.tail = FALSE
};

// Rscript with pnorm, pcauchy, pexp, pgamma (inv_gamma through 1/y), plnorm, punif,
// ppois, plogis, pweibull; tails included (normal at z = -40 and 25, Poisson far
// above its mean).
const std::vector<CdfCase> kFromR = {
  {"normal", 0.29999999999999999, {1, 2}, -1.0128860278195606, -0.45125151248278322},
  {"normal", -3, {0.5, 0.20000000000000001}, -156.90937848434641, -7.1634587662350364e-69},
  {"normal", 25, {0, 1}, -3.0566967063825616e-138, -316.63940800802027},
  {"normal", -40, {0, 1}, -804.6084420137538, -0},
  {"normal", 1.5, {2, 0.69999999999999996}, -1.4374812947345741, -0.27118590157658062},
  {"std_normal", -1.3, {}, -2.3351032786624426, -0.10181180266765505},
  {"std_normal", 2.2000000000000002, {}, -0.01400100575938458, -4.2756184470441436},
  {"std_normal", -38, {}, -726.5572160188201, -2.8854283510039645e-316},
  {"cauchy", 0.29999999999999999, {1, 2}, -0.93437049891857848, -0.49895152829762096},
  {"cauchy", -30, {0.5, 0.20000000000000001}, -6.1719088146943939, -0.002089429363889333},
  {"exponential", 0.29999999999999999, {2}, -0.79587036834631963, -0.59999999999999998},
  {"exponential", 0.0001, {1.5}, -8.8049502629305181, -0.00015000000000000001},
  {"exponential", 12, {3}, -2.3195228302435701e-16, -36},
  {"gamma", 0.29999999999999999, {2, 1.5}, -2.5844285083136982, -0.078436443567516959},
  {"gamma", 4, {0.5, 0.20000000000000001}, -0.23054992432308136, -1.5803490714222395},
  {"gamma", 20, {3, 1.1000000000000001}, -7.392090719317682e-08, -16.420270174013776},
  {"inv_gamma", 0.29999999999999999, {2, 1.5}, -3.2082405307719459, -0.041267595863406267},
  {"inv_gamma", 4, {0.5, 0.20000000000000001}, -0.28524553116967688, -1.3936398091732776},
  {"lognormal", 0.29999999999999999, {0.10000000000000001, 1.5}, -1.6485042883401497, -0.21361085077283459},
  {"lognormal", 40, {0.5, 0.20000000000000001}, -1.5581613697799215e-57, -130.80384378362055},
  {"uniform", 0.29999999999999999, {-1, 2}, -0.83624802420061861, -0.5679840376059393},
  {"uniform", 1.8999999999999999, {-1, 2}, -0.033901551675681339, -3.4011973816621546},
  {"poisson", 3, {2.5}, -0.27763124086275537, -1.4170675689617411},
  {"poisson", 0, {0.69999999999999996}, -0.69999999999999996, -0.68634100280838517},
  {"poisson", 30, {4}, -1.1732435431464327e-17, -38.984174408612596},
  {"logistic", 0.29999999999999999, {1, 2}, -0.88338215541877696, -0.53338215541877698},
  {"logistic", -8, {0.5, 0.20000000000000001}, -42.5, -3.4872615319944465e-19},
  {"logistic", 30, {0, 1}, -9.3576229688397368e-14, -30.000000000000092},
  {"weibull", 0.29999999999999999, {2, 1.5}, -3.2388091590904007, -0.039999999999999994},
  {"weibull", 4, {0.5, 0.20000000000000001}, -0.011488633337369422, -4.4721359549995796},
};

std::string number(double x) {
  std::ostringstream s;
  s.precision(17);
  s << x;
  return s.str();
}

// |a - b| within rel of the larger magnitude, or both tiny (a value below 1e-300
// underflows differently in the two computations).
bool agree(double a, double b, double rel) {
  if (std::fabs(a) < 1e-300 && std::fabs(b) < 1e-300) return true;
  return std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b));
}

double output(const BoundModel& m, const std::string& name) {
  std::vector<std::string> names = m.output_names();
  Vec out = m.constrained_outputs(Vec{0.0}.data());
  for (size_t k = 0; k < names.size(); ++k)
    if (names[k] == name) return out[k];
  BOOST_FAIL("no output " + name);
  return 0;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cdfs)

BOOST_AUTO_TEST_CASE(log_cdfs_agree_with_r) {
  std::string gq;
  for (size_t k = 0; k < kFromR.size(); ++k) {
    const CdfCase& c = kFromR[k];
    // The variate (an int for poisson), then " | " and the parameters when there are any.
    std::string args = std::string(c.dist) == "poisson" ? std::to_string(static_cast<int>(c.y)) : number(c.y);
    for (size_t i = 0; i < c.params.size(); ++i) args += (i == 0 ? " | " : ", ") + number(c.params[i]);
    gq += "  real lcdf" + std::to_string(k) + " = " + c.dist + "_lcdf(" + args + ");\n";
    gq += "  real lccdf" + std::to_string(k) + " = " + c.dist + "_lccdf(" + args + ");\n";
    gq += "  real cdf" + std::to_string(k) + " = " + c.dist + "_cdf(" + args + ");\n";
  }
  auto m = make_model("parameters { real dummy; } model { dummy ~ normal(0, 1); }\ngenerated quantities {\n" + gq + "}");
  for (size_t k = 0; k < kFromR.size(); ++k) {
    const CdfCase& c = kFromR[k];
    std::string n = std::to_string(k), what = std::string(c.dist) + " at " + number(c.y);
    double lcdf = output(*m, "lcdf" + n), lccdf = output(*m, "lccdf" + n), cdf = output(*m, "cdf" + n);
    BOOST_TEST(agree(lcdf, c.lcdf, 1e-11), what << ": lcdf " << lcdf << " vs R's " << c.lcdf);
    BOOST_TEST(agree(lccdf, c.lccdf, 1e-11), what << ": lccdf " << lccdf << " vs R's " << c.lccdf);
    BOOST_TEST(agree(cdf, std::exp(c.lcdf), 1e-11), what << ": cdf " << cdf << " vs R's " << std::exp(c.lcdf));
  }
}

// Gumbel and double exponential in closed form (R has no p-function for them).
BOOST_AUTO_TEST_CASE(log_cdfs_in_closed_form) {
  auto m = make_model(R"(
parameters { real dummy; } model { dummy ~ normal(0, 1); }
generated quantities {
  real g1 = gumbel_lcdf(0.7 | 0.2, 1.5);
  real g2 = gumbel_lccdf(0.7 | 0.2, 1.5);
  real d1 = double_exponential_lcdf(-1.1 | 0.4, 0.8);
  real d2 = double_exponential_lccdf(-1.1 | 0.4, 0.8);
  real d3 = double_exponential_lcdf(2.5 | 0.4, 0.8);
  real d4 = double_exponential_lccdf(2.5 | 0.4, 0.8);
}
)");
  double zg = (0.7 - 0.2) / 1.5;
  BOOST_TEST(agree(output(*m, "g1"), -std::exp(-zg), 1e-14));
  BOOST_TEST(agree(output(*m, "g2"), std::log1p(-std::exp(-std::exp(-zg))), 1e-14));
  double zl = (-1.1 - 0.4) / 0.8, zu = (2.5 - 0.4) / 0.8;
  BOOST_TEST(agree(output(*m, "d1"), std::log(0.5 * std::exp(zl)), 1e-14));
  BOOST_TEST(agree(output(*m, "d2"), std::log1p(-0.5 * std::exp(zl)), 1e-14));
  BOOST_TEST(agree(output(*m, "d3"), std::log1p(-0.5 * std::exp(-zu)), 1e-14));
  BOOST_TEST(agree(output(*m, "d4"), std::log(0.5 * std::exp(-zu)), 1e-14));
}

BOOST_AUTO_TEST_CASE(log_cdf_gradients) {
  auto m = make_model(R"(
data { vector[3] y; array[3] int n; }
parameters { real mu; real<lower=0> sigma; real<lower=0> rate; real x; }
model {
  target += normal_lcdf(y | mu, sigma) + normal_lccdf(y | mu, sigma) + std_normal_lcdf(x) + std_normal_lccdf(x);
  target += cauchy_lcdf(y | mu, sigma) + cauchy_lccdf(y | mu, sigma);
  target += exponential_lcdf(rate | sigma) + exponential_lccdf(rate | sigma);
  target += gamma_lcdf(rate | 2.5, sigma) + gamma_lccdf(rate | 0.7, sigma);
  target += inv_gamma_lcdf(rate | 2.5, sigma) + inv_gamma_lccdf(rate | 0.7, sigma);
  target += lognormal_lcdf(rate | mu, sigma) + lognormal_lccdf(rate | mu, sigma);
  target += uniform_lcdf(x | -3, 3 + rate) + uniform_lccdf(x | -3 - rate, 3);
  target += poisson_lcdf(n | rate) + poisson_lccdf(n | rate);
  target += gumbel_lcdf(y | mu, sigma) + gumbel_lccdf(y | mu, sigma);
  target += double_exponential_lcdf(y | mu, sigma) + double_exponential_lccdf(y | mu, sigma);
  target += logistic_lcdf(y | mu, sigma) + logistic_lccdf(y | mu, sigma);
  target += weibull_lcdf(rate | sigma, 1.3) + weibull_lccdf(rate | 0.8, sigma);
  target += log(normal_cdf(x | mu, sigma));
}
)",
                      R"({"y": [-0.5, 1.2, 3.0], "n": [0, 2, 7]})");
  std::mt19937_64 rng(11);
  for (int k = 0; k < 4; ++k) check_gradient(*m, random_theta(rng, 4, -1.2, 1.2), true, 1e-6, "log CDFs");
}

BOOST_AUTO_TEST_CASE(shape_parameters_without_derivatives_are_refused) {
  std::string msg = error_of([] {
    make_model("parameters { real<lower=0> a; }\nmodel { target += gamma_lcdf(1.5 | a, 1); }");
  });
  BOOST_TEST(contains(msg, "gamma_lcdf: its derivative with respect to the shape parameter is not implemented"), msg);
  BOOST_TEST(contains(msg, "test.lat:2:"), msg);
  msg = error_of([] { make_model("parameters { real x; } model { target += normal_lcdf(x | 0, -1); }"); });
  BOOST_TEST(contains(msg, "scale parameter"), msg);
}

// y ~ normal(mu, sigma) T[L, U] adds log phi(z) - log sigma - log(Phi(zU) - Phi(zL)).
BOOST_AUTO_TEST_CASE(truncated_normal_against_its_closed_form) {
  auto m = make_model(R"(
data { int N; vector[N] y; real L; real U; }
parameters { real mu; real<lower=0> sigma; }
model {
  for (n in 1:N) y[n] ~ normal(mu, sigma) T[L, U];
  for (n in 1:N) y[n] ~ normal(mu, sigma) T[L, ];
  for (n in 1:N) y[n] ~ normal(mu, sigma) T[, U];
}
)",
                      R"({"N": 3, "y": [0.2, 1.1, 2.9], "L": -0.5, "U": 3})");
  auto Phi = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
  std::mt19937_64 rng(5);
  for (int k = 0; k < 3; ++k) {
    Vec theta = random_theta(rng, 2, -1, 1);
    double mu = theta[0], sigma = std::exp(theta[1]), want = theta[1];  // log-Jacobian of sigma
    for (double y : {0.2, 1.1, 2.9}) {
      double z = (y - mu) / sigma, kernel = -0.5 * z * z - std::log(sigma);  // `~` drops -log sqrt(2 pi)
      double zl = (-0.5 - mu) / sigma, zu = (3 - mu) / sigma;
      want += kernel - std::log(Phi(zu) - Phi(zl));
      want += kernel - std::log(1 - Phi(zl));
      want += kernel - std::log(Phi(zu));
    }
    BOOST_TEST(agree(lp(*m, theta), want, 1e-12), lp(*m, theta) << " vs " << want);
    check_gradient(*m, theta, true, 1e-6, "truncated normal");
  }
}

// An int variate's lower bound is inclusive: P(L <= Y <= U) = F(U) - F(L - 1).
BOOST_AUTO_TEST_CASE(truncated_poisson_includes_its_lower_bound) {
  auto m = make_model(R"(
data { array[3] int y; }
parameters { real<lower=0> lambda; }
model {
  for (n in 1:3) y[n] ~ poisson(lambda) T[1, 6];
}
)",
                      R"({"y": [1, 3, 6]})");
  for (double u : {-0.4, 0.3, 1.1}) {
    double lambda = std::exp(u), mass = 0, want = u;
    for (int k = 1; k <= 6; ++k) mass += std::exp(k * std::log(lambda) - lambda - std::lgamma(k + 1.0));
    for (int y : {1, 3, 6}) want += y * std::log(lambda) - lambda - std::log(mass);  // `~` drops -lgamma(y + 1)
    BOOST_TEST(agree(lp(*m, {u}), want, 1e-12), lp(*m, {u}) << " vs " << want);
    check_gradient(*m, {u}, true, 1e-6, "truncated poisson");
  }
}

// Outside [L, U] the target is -inf, as Stan's.
BOOST_AUTO_TEST_CASE(a_variate_outside_its_truncation_has_zero_density) {
  auto m = make_model("data { real y; } parameters { real mu; } model { y ~ normal(mu, 1) T[0, 1]; }", R"({"y": 1.5})");
  BOOST_TEST(std::isinf(lp(*m, {0.3})));
  BOOST_TEST(lp(*m, {0.3}) < 0);
}

BOOST_AUTO_TEST_CASE(truncation_errors) {
  std::string msg = error_of([] {
    make_model("data { vector[2] y; } parameters { real mu; }\nmodel { y ~ normal(mu, 1) T[0, ]; }");
  });
  BOOST_TEST(contains(msg, "truncation T[...] needs one variate"), msg);
  msg = error_of([] { make_model("data { real y; } parameters { real<lower=0> a; }\nmodel { y ~ beta(a, 2) T[0.1, ]; }"); });
  BOOST_TEST(contains(msg, "needs the CDF of 'beta'"), msg);
  msg = error_of([] {
    make_model("data { real y; } parameters { real mu; }\nmodel { y ~ normal(mu, 1) T[2, 1]; }", R"({"y": 1.5})");
  });
  BOOST_TEST(contains(msg, "lower bound must be less than its upper bound"), msg);
}

BOOST_AUTO_TEST_CASE(elementwise_functions) {
  auto m = make_model(R"(
parameters { real dummy; } model { dummy ~ normal(0, 1); }
generated quantities {
  real s = sin(0.7); real c = cos(0.7); real t = tan(0.7);
  real as = asin(0.3); real ac = acos(0.3); real at = atan(-2.5);
  real sh = sinh(0.4); real ch = cosh(0.4); real ash = asinh(-1.5); real ach = acosh(2.5); real ath = atanh(0.6);
  real cb = cbrt(-27.0); real e1 = erf(0.35); real e2 = erfc(2.5);
  real ce = ceil(1.2); real ro = round(-2.5); real tr = trunc(-2.7);
  real p1 = Phi(-1.3); real p2 = Phi(0.4); real q1 = inv_Phi(0.025); real q2 = inv_Phi(1e-10); real q3 = inv_Phi(0.7);
  real pa = Phi_approx(0.4);
  real l1 = log1m_exp(-0.2); real l2 = log1m_exp(-40); real ld = log_diff_exp(1.5, 0.3);
}
)");
  BOOST_TEST(agree(output(*m, "s"), std::sin(0.7), 1e-15));
  BOOST_TEST(agree(output(*m, "c"), std::cos(0.7), 1e-15));
  BOOST_TEST(agree(output(*m, "t"), std::tan(0.7), 1e-15));
  BOOST_TEST(agree(output(*m, "as"), std::asin(0.3), 1e-15));
  BOOST_TEST(agree(output(*m, "ac"), std::acos(0.3), 1e-15));
  BOOST_TEST(agree(output(*m, "at"), std::atan(-2.5), 1e-15));
  BOOST_TEST(agree(output(*m, "sh"), std::sinh(0.4), 1e-15));
  BOOST_TEST(agree(output(*m, "ch"), std::cosh(0.4), 1e-15));
  BOOST_TEST(agree(output(*m, "ash"), std::asinh(-1.5), 1e-15));
  BOOST_TEST(agree(output(*m, "ach"), std::acosh(2.5), 1e-15));
  BOOST_TEST(agree(output(*m, "ath"), std::atanh(0.6), 1e-15));
  BOOST_TEST(agree(output(*m, "cb"), -3.0, 1e-15));
  BOOST_TEST(agree(output(*m, "e1"), std::erf(0.35), 1e-15));
  BOOST_TEST(agree(output(*m, "e2"), std::erfc(2.5), 1e-15));
  BOOST_TEST(output(*m, "ce") == 2.0);
  BOOST_TEST(output(*m, "ro") == -3.0);  // half away from zero, as Stan's (C's round)
  BOOST_TEST(output(*m, "tr") == -2.0);
  // R: pnorm(-1.3), pnorm(0.4), qnorm(0.025), qnorm(1e-10), qnorm(0.7)
  BOOST_TEST(agree(output(*m, "p1"), 0.096800484585610344, 1e-14));
  BOOST_TEST(agree(output(*m, "p2"), 0.65542174161032418, 1e-14));
  BOOST_TEST(agree(output(*m, "q1"), -1.9599639845400538, 1e-14));
  BOOST_TEST(agree(output(*m, "q2"), -6.3613409024040557, 1e-13));
  BOOST_TEST(agree(output(*m, "q3"), 0.52440051270804067, 1e-14));
  BOOST_TEST(agree(output(*m, "pa"), 1 / (1 + std::exp(-(0.07056 * 0.064 + 1.5976 * 0.4))), 1e-15));
  BOOST_TEST(agree(output(*m, "l1"), std::log(-std::expm1(-0.2)), 1e-15));
  BOOST_TEST(agree(output(*m, "l2"), std::log1p(-std::exp(-40.0)), 1e-15));
  BOOST_TEST(agree(output(*m, "ld"), std::log(std::exp(1.5) - std::exp(0.3)), 1e-14));
}

BOOST_AUTO_TEST_CASE(elementwise_function_gradients) {
  auto m = make_model(R"(
parameters { real<lower=-0.9, upper=0.9> u; real x; real<lower=1.1> w; }
model {
  target += sin(x) + cos(2 * x) + tan(0.3 * x) + asin(u) + acos(0.5 * u) + atan(x);
  target += sinh(0.5 * x) + cosh(0.3 * x) + asinh(x) + acosh(w) + atanh(u) + cbrt(w);
  target += erf(x) + erfc(0.5 * x) + log(Phi(x)) + inv_Phi(0.5 + 0.4 * u) + Phi_approx(x);
  target += log1m_exp(-w) + log_diff_exp(w, u);
}
)");
  std::mt19937_64 rng(3);
  for (int k = 0; k < 4; ++k) check_gradient(*m, random_theta(rng, 3, -1.2, 1.2), true, 1e-6, "elementwise functions");
}

BOOST_AUTO_TEST_SUITE_END()
