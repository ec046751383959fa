// Multivariate distributions, correlation and covariance types, and Student-t CDFs
// (stdlib/multivariate.cpp, compiler/transforms/constraints.cpp, stdlib/library.cpp):
// values against numbers from R (mvtnorm::dmvnorm, pt, and rstan 2.21's log_prob and
// constrain_pars for the transforms and the LKJ densities; kept here as numbers),
// gradients against finite differences, initial values through the inverse
// transforms, and the errors.
#define BOOST_TEST_MODULE multivariate
#include "tests/support/model_fixture.hpp"

#include "kernels/eval_context.hpp"

#include <map>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;
const char* kGaussianData = R"({"S": [[2, 0.3, -0.4], [0.3, 1.5, 0.2], [-0.4, 0.2, 1.0]],
  "y1": [0.5, -1.2, 2.0], "y2": [-0.7, 0.4, 0.9], "mu": [0.1, 0.2, -0.3], "mu2": [1, -1, 0.5]})";

// rstan 2.21, at this unconstrained point, of the model in transforms_against_rstan.
const Vec kU{0.3, -0.8, 1.1, -0.5, 0.9, 0.2, 0.4, -0.3, 0.7, 0.1, -1.2, 0.6, 0.5, 0.3, -0.2, 0.8, -0.7, 0.25, 1.3, -0.4, 0.15, -0.6};
const char* kTransforms = R"(
data { real eta; }
parameters {
  cholesky_factor_corr[3] L;
  corr_matrix[3] O;
  cov_matrix[3] S;
  cholesky_factor_cov[4, 3] C;
  cholesky_factor_corr[2] L2;
}
model { }
)";

}  // namespace

// log N(y | mu, S) of R's mvtnorm::dmvnorm: one vector, an array of vectors sharing a
// location, one vector against an array of locations; the Cholesky form with R's chol.
BOOST_AUTO_TEST_CASE(multi_normal_against_r) {
  auto m = make_model(R"(
data { matrix[3, 3] S; vector[3] y1; vector[3] y2; vector[3] mu; vector[3] mu2; }
parameters { real dummy; }
model { dummy ~ normal(0, 1); }
generated quantities {
  real one = multi_normal_lpdf(y1 | mu, S);
  real two = multi_normal_lpdf({y1, y2} | mu, S);
  real locations = multi_normal_lpdf(y1 | {mu, mu2}, S);
  real rows = multi_normal_lpdf(y1' | mu', S);
  real chol = multi_normal_cholesky_lpdf({y1, y2} | mu, cholesky_decompose(S));
}
)",
                      kGaussianData);
  Vec theta{0.0};
  BOOST_TEST(close(output_values(*m, theta, "one").at(0), -7.9877876454783738, 1e-13));
  BOOST_TEST(close(output_values(*m, theta, "two").at(0), -11.959151215425669, 1e-13));
  BOOST_TEST(close(output_values(*m, theta, "locations").at(0), -12.436904952640461, 1e-13));
  BOOST_TEST(close(output_values(*m, theta, "rows").at(0), -7.9877876454783738, 1e-13));
  BOOST_TEST(close(output_values(*m, theta, "chol").at(0), -11.959151215425669, 1e-13));
}

// `~` keeps only what depends on parameters: with the covariance data, the log
// determinant and 2 pi terms go; with it a parameter, the log determinant stays.
BOOST_AUTO_TEST_CASE(multi_normal_tilde_drops_constant_terms) {
  auto data_cov = make_model(R"(
data { matrix[3, 3] S; vector[3] y1; }
parameters { vector[3] m; }
model { y1 ~ multi_normal(m, S); }
)",
                             kGaussianData);
  auto full = make_model(R"(
data { matrix[3, 3] S; vector[3] y1; }
parameters { vector[3] m; }
model { target += multi_normal_lpdf(y1 | m, S); }
)",
                         kGaussianData);
  Vec at{0.1, 0.2, -0.3};
  // -3/2 log(2 pi) - 1/2 log det S (R: determinant(S)$modulus = 0.93295117276726225)
  double constants = -1.5 * std::log(2 * M_PI) - 0.5 * 0.93295117276726225;
  BOOST_TEST(close(lp(*full, at), -7.9877876454783738, 1e-13));
  BOOST_TEST(close(lp(*data_cov, at), -7.9877876454783738 - constants, 1e-13));
  auto param_cov = make_model(R"(
data { vector[3] y1; }
parameters { real<lower=0> s; }
model { y1 ~ multi_normal(rep_vector(0, 3), diag_matrix(rep_vector(s, 3))); }
)",
                              kGaussianData);
  // -3/2 log s - |y|^2 / (2 s), without the 2 pi term; s = exp(0.4), no Jacobian
  double s = std::exp(0.4), yy = 0.25 + 1.44 + 4;
  BOOST_TEST(close(lp(*param_cov, {0.4}, false), -1.5 * std::log(s) - yy / (2 * s), 1e-13));
}

BOOST_AUTO_TEST_CASE(multi_normal_gradients) {
  auto m = make_model(R"(
data { array[3] vector[3] y; }
parameters { vector[3] mu; matrix[3, 3] Z; vector[3] x; }
model {
  matrix[3, 3] S = tcrossprod(Z) + diag_matrix(rep_vector(1, 3));
  y ~ multi_normal(mu, S);
  x ~ multi_normal_cholesky(mu, cholesky_decompose(S));
  target += multi_normal_lpdf(x | {mu, 2 * mu}, S);
}
)",
                      R"({"y": [[0.5, -1.2, 2.0], [-0.7, 0.4, 0.9], [0.1, 0.1, 0.3]]})");
  std::mt19937_64 rng(8);
  for (int k = 0; k < 4; ++k) check_gradient(*m, random_theta(rng, 15, -1, 1), true, 1e-6, "multi_normal");
}

BOOST_AUTO_TEST_CASE(multi_normal_errors) {
  std::string msg = error_of([] {
    make_model("parameters { vector[2] m; } model { m ~ multi_normal(rep_vector(0, 3), diag_matrix(rep_vector(1, 3))); }");
  });
  BOOST_TEST(contains(msg, "multi_normal_lpdf: size mismatch"), msg);
  msg = error_of([] { make_model("parameters { vector[2] m; } model { m ~ multi_normal(0, diag_matrix(m)); }"); });
  BOOST_TEST(contains(msg, "no matching signature for multi_normal"), msg);
  auto m = make_model("parameters { real a; }\nmodel { [0, 0]' ~ multi_normal([0, 0]', [[1, a], [a, 1]]); }");
  BOOST_TEST(std::isfinite(lp(*m, {0.3})));
  msg = failure_message(*m, {2.0});
  BOOST_TEST(contains(msg, "multi_normal_lpdf: the covariance matrix is not positive definite"), msg);
  BOOST_TEST(contains(msg, "test.lat:2:"), msg);
}

// Draws of multi_normal_rng: the sample mean and covariance of 20000 draws against
// mu and Sigma (standard errors about 0.01 and 0.02).
BOOST_AUTO_TEST_CASE(multi_normal_rng_draws) {
  auto m = make_model(R"(
parameters { real dummy; }
model { dummy ~ normal(0, 1); }
generated quantities {
  array[20000] vector[2] draws;
  for (n in 1:20000) draws[n] = multi_normal_rng([1, -2]', [[2, 0.6], [0.6, 1]]);
}
)");
  Vec d = output_values(*m, {0.0}, "draws");  // draws[n][k] at n + 20000 k (the first index fastest)
  BOOST_TEST_REQUIRE(d.size() == 40000u);
  double m1 = 0, m2 = 0;
  for (size_t n = 0; n < 20000; ++n) m1 += d[n] / 20000, m2 += d[20000 + n] / 20000;
  double s11 = 0, s12 = 0, s22 = 0;
  for (size_t n = 0; n < 20000; ++n) {
    double a = d[n] - m1, b = d[20000 + n] - m2;
    s11 += a * a / 19999, s12 += a * b / 19999, s22 += b * b / 19999;
  }
  BOOST_TEST(std::fabs(m1 - 1) < 0.05);
  BOOST_TEST(std::fabs(m2 + 2) < 0.05);
  BOOST_TEST(std::fabs(s11 - 2) < 0.1);
  BOOST_TEST(std::fabs(s12 - 0.6) < 0.06);
  BOOST_TEST(std::fabs(s22 - 1) < 0.05);
}

// The transforms of cholesky_factor_corr, corr_matrix, cov_matrix and cholesky_factor_cov:
// constrained values and the total log-Jacobian against rstan's constrain_pars and
// log_prob(adjust_transform = TRUE) - log_prob(FALSE) at the same unconstrained point.
BOOST_AUTO_TEST_CASE(transforms_against_rstan) {
  auto m = make_model(kTransforms, R"({"eta": 1.7})");
  BOOST_TEST_REQUIRE(m->num_unconstrained() == 22);
  BOOST_TEST(close(lp(*m, kU, true) - lp(*m, kU, false), 3.72478551441587, 1e-13));
  std::map<std::string, Vec> r{
      {"L", {1, 0.291312612451591, -0.664036770267849, 0, 0.956627911900248, 0.598533053119557, 0, 0, 0.448122028085683}},
      {"O", {1, -0.46211715726001, 0.716297870199024, -0.46211715726001, 1, -0.20887424024009, 0.716297870199024,
             -0.20887424024009, 1}},
      {"S", {2.22554092849247, -0.447547409292381, 0.149182469764127, -0.447547409292381, 4.14519996684468,
             -2.44650324896457, 0.149182469764127, -2.44650324896457, 4.77011692273655}},
      {"C", {1.64872127070013, 0.3, 0.8, 1.3, 0, 0.818730753077982, -0.7, -0.4, 0, 0, 1.28402541668774, 0.15}},
      {"L2", {1, -0.537049566998035, 0, 0.843550687621807}},
  };
  for (auto& [name, want] : r) {
    Vec got = output_values(*m, kU, name);
    BOOST_TEST_CONTEXT(name) {
      BOOST_TEST_REQUIRE(got.size() == want.size());
      for (size_t k = 0; k < got.size(); ++k) BOOST_TEST(close(got[k], want[k], 1e-13), k << ": " << got[k] << " vs " << want[k]);
    }
  }
  std::mt19937_64 rng(2);
  for (int k = 0; k < 3; ++k) check_gradient(*m, random_theta(rng, 22, -1.5, 1.5), true, 1e-6, "log-Jacobians");
}

// Each transform's log-Jacobian on its own against the log determinant of its Jacobian
// computed by finite differences (of the free elements: the lower triangle without the
// diagonal of the correlation types, the lower triangle of cov_matrix, the factor's
// lower trapezoid).
BOOST_AUTO_TEST_CASE(log_jacobians_against_numerical_determinants) {
  struct Case {
    std::string decl, name;
    int free, rows, cols;
    std::function<bool(int, int)> is_free;  // which constrained elements (i, j) the density is over
  };
  std::vector<Case> cases{
      {"cholesky_factor_corr[4] X;", "X", 6, 4, 4, [](int i, int j) { return i > j; }},
      {"corr_matrix[4] X;", "X", 6, 4, 4, [](int i, int j) { return i > j; }},
      {"cov_matrix[3] X;", "X", 6, 3, 3, [](int i, int j) { return i >= j; }},
      {"cholesky_factor_cov[4, 2] X;", "X", 7, 4, 2, [](int i, int j) { return i >= j; }},
  };
  for (const Case& c : cases) {
    BOOST_TEST_CONTEXT(c.decl) {
      auto m = make_model("parameters { " + c.decl + " } model { }");
      BOOST_TEST_REQUIRE(m->num_unconstrained() == c.free);
      std::mt19937_64 rng(3);
      Vec u = random_theta(rng, static_cast<size_t>(c.free), -1, 1);
      auto free_values = [&](const Vec& at) {
        Vec x = output_values(*m, at, c.name), f;
        for (int j = 0; j < c.cols; ++j)
          for (int i = 0; i < c.rows; ++i)
            if (c.is_free(i, j)) f.push_back(x[static_cast<size_t>(i + j * c.rows)]);
        return f;
      };
      // J[a][b] = d free_a / d u_b by central differences; log |det J| by Gaussian elimination.
      size_t n = static_cast<size_t>(c.free);
      std::vector<Vec> J(n, Vec(n));
      for (size_t b = 0; b < n; ++b) {
        Vec up = u, down = u;
        up[b] += 1e-6;
        down[b] -= 1e-6;
        Vec fu = free_values(up), fd = free_values(down);
        BOOST_TEST_REQUIRE(fu.size() == n);
        for (size_t a = 0; a < n; ++a) J[a][b] = (fu[a] - fd[a]) / 2e-6;
      }
      double log_det = 0;
      for (size_t k = 0; k < n; ++k) {
        size_t p = k;
        for (size_t r = k + 1; r < n; ++r)
          if (std::fabs(J[r][k]) > std::fabs(J[p][k])) p = r;
        std::swap(J[k], J[p]);
        log_det += std::log(std::fabs(J[k][k]));
        for (size_t r = k + 1; r < n; ++r) {
          double f = J[r][k] / J[k][k];
          for (size_t q = k; q < n; ++q) J[r][q] -= f * J[k][q];
        }
      }
      BOOST_TEST(close(lp(*m, u, true) - lp(*m, u, false), log_det, 1e-7));
    }
  }
}

// Initial values by name go through the inverse transforms back to the same point;
// invalid ones are refused with a reason.
BOOST_AUTO_TEST_CASE(initial_values_round_trip) {
  auto m = make_model(kTransforms, R"({"eta": 1.7})");
  std::string init = R"({
    "L": [[1, 0, 0], [0.291312612451591, 0.956627911900248, 0], [-0.664036770267849, 0.598533053119557, 0.448122028085683]],
    "O": [[1, -0.46211715726001, 0.716297870199024], [-0.46211715726001, 1, -0.20887424024009], [0.716297870199024, -0.20887424024009, 1]],
    "S": [[2.22554092849247, -0.447547409292381, 0.149182469764127], [-0.447547409292381, 4.14519996684468, -2.44650324896457], [0.149182469764127, -2.44650324896457, 4.77011692273655]],
    "C": [[1.64872127070013, 0, 0], [0.3, 0.818730753077982, 0], [0.8, -0.7, 1.28402541668774], [1.3, -0.4, 0.15]],
    "L2": [[1, 0], [-0.537049566998035, 0.843550687621807]]})";
  std::mt19937_64 rng(1);
  Vec u = m->unconstrain(DataSet::from_json_string(init, "init.json"), rng);
  BOOST_TEST_REQUIRE(u.size() == kU.size());
  for (size_t k = 0; k < u.size(); ++k) BOOST_TEST(close(u[k], kU[k], 1e-12), k << ": " << u[k] << " vs " << kU[k]);
  auto bad = [&](const std::string& field, const std::string& value) {
    std::string text = init;
    size_t at = text.find("\"" + field + "\":");
    size_t end = text.find("]]", at);
    text.replace(at, end + 2 - at, "\"" + field + "\": " + value);
    return error_of([&] { m->unconstrain(DataSet::from_json_string(text, "init.json"), rng); });
  };
  std::string msg = bad("O", "[[1, 0.5, 0], [0.4, 1, 0], [0, 0, 1]]");
  BOOST_TEST(contains(msg, "a correlation matrix must be symmetric"), msg);
  msg = bad("O", "[[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]]");
  BOOST_TEST(contains(msg, "must be positive definite"), msg);
  msg = bad("L", "[[1, 0, 0], [0.5, 0.5, 0], [0, 0, 1]]");
  BOOST_TEST(contains(msg, "must have rows of unit length"), msg);
  msg = bad("C", "[[1, 0.1, 0], [0.3, 1, 0], [0.8, -0.7, 1], [1, 1, 1]]");
  BOOST_TEST(contains(msg, "must be lower triangular"), msg);
}

// Declared types of transformed parameters, generated quantities and data are checked.
BOOST_AUTO_TEST_CASE(declared_matrix_types_are_checked) {
  auto m = make_model(R"(
parameters { real<lower=-1, upper=1> a; real<lower=0> s; }
transformed parameters {
  corr_matrix[2] O = [[1, a], [a, 1]];
  cov_matrix[2] S = [[s, 1], [1, s]];
}
model { }
)");
  BOOST_TEST(std::isfinite(lp(*m, {0.0, std::log(2.0)})));
  std::string msg = failure_message(*m, {0.0, std::log(0.5)});  // s = 0.5: [[0.5, 1], [1, 0.5]] is not positive definite
  BOOST_TEST(contains(msg, "transformed parameters variable 'S' is not positive definite"), msg);
  auto f = make_model(R"(
parameters { real a; }
transformed parameters { cholesky_factor_corr[2] L = [[1, 0], [a, 1]]; }
model { }
)");
  BOOST_TEST(std::isfinite(lp(*f, {0.0})));
  msg = failure_message(*f, {0.5});
  BOOST_TEST(contains(msg, "transformed parameters variable 'L' does not have rows of unit length"), msg);
  msg = error_of([] {
    make_model("data { corr_matrix[2] O; } parameters { real x; } model { x ~ normal(0, 1); }",
               R"({"O": [[1, 0.5], [0.5, 2]]})");
  });
  BOOST_TEST(contains(msg, "field 'O': a correlation matrix must have ones on its diagonal"), msg);
  msg = error_of([] { make_model("parameters { corr_matrix<lower=0>[2] O; } model { }"); });
  BOOST_TEST(contains(msg, "cannot have"), msg);
}

// The LKJ densities against rstan's lkj_corr_cholesky_lpdf and lkj_corr_lpdf (at the
// constrained values of transforms_against_rstan), and their gradients in eta too.
BOOST_AUTO_TEST_CASE(lkj_against_rstan) {
  std::vector<std::pair<std::string, double>> cases{
      {"lkj_corr_cholesky_lpdf(L | eta)", -2.07877691802172},
      {"lkj_corr_cholesky_lpdf(L | 1.0)", -1.6406533610648},
      {"lkj_corr_lpdf(O | eta)", -1.54833170311764},
      {"lkj_corr_cholesky_lpdf(L2 | eta)", -0.617799180216316},
  };
  for (auto& [call, want] : cases) {
    std::string text = kTransforms;
    text.replace(text.find("model { }"), 9, "model { target += " + call + "; }");
    auto m = make_model(text, R"({"eta": 1.7})");
    BOOST_TEST(close(lp(*m, kU, false), want, 1e-13), call << ": " << lp(*m, kU, false) << " vs " << want);
  }
  auto g = make_model(R"(
parameters { cholesky_factor_corr[4] L; real<lower=0> eta; corr_matrix[3] O; }
model { L ~ lkj_corr_cholesky(eta); O ~ lkj_corr(eta + 1); eta ~ gamma(2, 1); }
)");
  std::mt19937_64 rng(6);
  for (int k = 0; k < 3; ++k) check_gradient(*g, random_theta(rng, 10, -1, 1), true, 1e-6, "lkj");
}

// log P(Y <= y) and log P(Y > y) for Y ~ student_t(nu, mu, sigma): R's pt(z, nu, log.p =
// TRUE) and pt(z, nu, lower.tail = FALSE, log.p = TRUE), z = (y - mu) / sigma, far tails
// included; _cdf is exp of _lcdf. Rows: y, nu, mu, sigma, lcdf, lccdf.
BOOST_AUTO_TEST_CASE(student_t_cdfs_against_r) {
  const std::vector<Vec> r{
      {0.3, 3, 0, 1, -0.49738575480861119, -0.93679540819819673},
      {-2.5, 4.5, 0.5, 2, -2.3014902642570405, -0.1054822373190256},
      {40, 2.2, 1, 0.5, -3.9418265837023944e-05, -10.141300958233341},
      {-40, 2.2, 1, 0.5, -10.251295047096338, -3.5312364332866207e-05},
      {0.001, 1000000, 0, 1, -0.69234961447200039, -0.69394538326733468},
      {-8, 30, 0, 1, -19.581303156737292, -3.1329112427579511e-09},
      {0, 3, 0, 36, -0.69314718055994529, -0.69314718055994529},
  };
  std::string gq;
  for (size_t k = 0; k < r.size(); ++k) {
    std::ostringstream s;
    s.precision(17);
    s << r[k][0] << " | " << r[k][1] << ", " << r[k][2] << ", " << r[k][3];
    gq += "  real lcdf" + std::to_string(k) + " = student_t_lcdf(" + s.str() + ");\n";
    gq += "  real lccdf" + std::to_string(k) + " = student_t_lccdf(" + s.str() + ");\n";
    gq += "  real cdf" + std::to_string(k) + " = student_t_cdf(" + s.str() + ");\n";
  }
  auto m = make_model("parameters { real dummy; } model { dummy ~ normal(0, 1); }\ngenerated quantities {\n" + gq + "}");
  for (size_t k = 0; k < r.size(); ++k) {
    std::string n = std::to_string(k);
    BOOST_TEST(close_rel(output_values(*m, {0.0}, "lcdf" + n).at(0), r[k][4], 1e-12), "lcdf " << n);
    BOOST_TEST(close_rel(output_values(*m, {0.0}, "lccdf" + n).at(0), r[k][5], 1e-12), "lccdf " << n);
    BOOST_TEST(close_rel(output_values(*m, {0.0}, "cdf" + n).at(0), std::exp(r[k][4]), 1e-12), "cdf " << n);
  }
  // Vectorised: the sum over elements (the product for _cdf).
  auto v = make_model(R"(
parameters { real dummy; } model { dummy ~ normal(0, 1); }
generated quantities {
  real lcdf = student_t_lcdf([0.3, -2.5]' | [3, 4.5]', [0, 0.5]', [1, 2]');
  real lccdf = student_t_lccdf({0.3, 0.3} | 3, 0, 1);
  real cdf = student_t_cdf([0.3, -2.5]' | [3, 4.5]', [0, 0.5]', [1, 2]');
}
)");
  BOOST_TEST(close(output_values(*v, {0.0}, "lcdf").at(0), -0.49738575480861119 - 2.3014902642570405, 1e-13));
  BOOST_TEST(close(output_values(*v, {0.0}, "lccdf").at(0), 2 * -0.93679540819819673, 1e-13));
  BOOST_TEST(close(output_values(*v, {0.0}, "cdf").at(0), std::exp(-0.49738575480861119 - 2.3014902642570405), 1e-13));
}

BOOST_AUTO_TEST_CASE(student_t_cdf_gradients) {
  auto m = make_model(R"(
data { vector[3] y; }
parameters { real mu; real<lower=0> sigma; real x; }
model {
  target += student_t_lcdf(y | 3.5, mu, sigma) + student_t_lccdf(y | 2, mu, sigma);
  target += student_t_lccdf(x | 5, 0, 1) + log(student_t_cdf(x | 1.5, mu, 1));
}
)",
                      R"({"y": [-0.5, 1.2, 3.0]})");
  std::mt19937_64 rng(9);
  for (int k = 0; k < 4; ++k) check_gradient(*m, random_theta(rng, 3, -1.5, 1.5), true, 1e-6, "student_t CDFs");
}

// No derivative in the degrees of freedom: a parameter there is refused when compiling.
BOOST_AUTO_TEST_CASE(student_t_cdf_of_parameter_degrees_of_freedom_is_refused) {
  std::string msg = error_of([] {
    make_model("parameters { real<lower=0> nu; }\nmodel { target += student_t_lccdf(0.5 | nu, 0, 1); }");
  });
  BOOST_TEST(contains(msg, "student_t_lccdf: its derivative with respect to the degrees of freedom parameter is not "
                           "implemented"),
             msg);
  BOOST_TEST(contains(msg, "test.lat:2:"), msg);
  msg = error_of([] { make_model("parameters { real x; } model { target += student_t_lcdf(x | -1, 0, 1); }"); });
  BOOST_TEST(contains(msg, "degrees of freedom parameter must be positive"), msg);
  msg = error_of([] { make_model("parameters { real x; } model { target += student_t_lcdf(x, 3, 0, 1); }"); });
  BOOST_TEST(contains(msg, "needs '|'"), msg);
}
