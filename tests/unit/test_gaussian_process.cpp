// Covariance functions of Gaussian processes (stdlib/gaussian_process.cpp):
// gp_exp_quad_cov against the kernel written out, its gradient against finite
// differences, and its errors.
#define BOOST_TEST_MODULE gaussian_process
#include "tests/support/model_fixture.hpp"

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;

double kernel(const Vec& a, const Vec& b, double alpha, double rho) {
  double d2 = 0;
  for (size_t k = 0; k < a.size(); ++k) d2 += (a[k] - b[k]) * (a[k] - b[k]);
  return alpha * alpha * std::exp(-d2 / (2 * rho * rho));
}

}  // namespace

BOOST_AUTO_TEST_CASE(values_against_the_kernel_written_out) {
  // Points as reals and as 2-vectors; one set, and two sets.
  auto m = make_model(R"(
data { array[3] real x; array[2] real z; array[3] vector[2] v; }
parameters { real dummy; }
model { dummy ~ normal(0, 1); }
generated quantities {
  matrix[3, 3] K = gp_exp_quad_cov(x, 1.5, 0.7);
  matrix[3, 2] C = gp_exp_quad_cov(x, z, 2, 1.3);
  matrix[3, 3] V = gp_exp_quad_cov(v, 0.8, 1.1);
}
)",
                      R"({"x": [0.5, -1, 2], "z": [0, 1.5], "v": [[0, 1], [1, -1], [2.5, 0.5]]})");
  Vec out = m->constrained_outputs(Vec{0.0}.data());
  std::vector<std::string> names = m->output_names();
  auto at = [&](const std::string& name) {
    auto it = std::find(names.begin(), names.end(), name);
    BOOST_REQUIRE(it != names.end());
    return out[static_cast<size_t>(it - names.begin())];
  };
  Vec x{0.5, -1, 2}, z{0, 1.5};
  std::vector<Vec> v{{0, 1}, {1, -1}, {2.5, 0.5}};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      std::string ij = std::to_string(i + 1) + "." + std::to_string(j + 1);
      BOOST_TEST(close(at("K." + ij), kernel({x[i]}, {x[j]}, 1.5, 0.7), 1e-14), "K." << ij);
      BOOST_TEST(close(at("V." + ij), kernel(v[i], v[j], 0.8, 1.1), 1e-13), "V." << ij);
    }
    for (int j = 0; j < 2; ++j) {
      std::string ij = std::to_string(i + 1) + "." + std::to_string(j + 1);
      BOOST_TEST(close(at("C." + ij), kernel({x[i]}, {z[j]}, 2, 1.3), 1e-14), "C." << ij);
    }
  }
}

BOOST_AUTO_TEST_CASE(gradients_against_finite_differences) {
  // Points, magnitude and length scale all parameters; a GP marginal likelihood.
  auto m = make_model(R"(
data { vector[3] y; }
parameters { array[3] real x; array[2] vector[2] v; real<lower=0> alpha; real<lower=0> rho; }
model {
  matrix[3, 3] K = gp_exp_quad_cov(x, alpha, rho) + diag_matrix(rep_vector(0.1, 3));
  target += sum(K .* [[1, 2, 3], [0.5, -1, 2], [1, 1, -2]]);
  target += sum(gp_exp_quad_cov(v, alpha, rho)) + sum(gp_exp_quad_cov(x, {0.3}, alpha, rho));
}
)",
                      R"({"y": [0.1, 0.2, 0.3]})");
  std::mt19937_64 rng(4);
  for (int k = 0; k < 3; ++k) check_gradient(*m, random_theta(rng, 9, -1, 1), true, 1e-6, "gp_exp_quad_cov");
}

BOOST_AUTO_TEST_CASE(errors) {
  std::string msg = error_of([] {
    make_model("data { array[2] vector[2] a; array[2] vector[3] b; } parameters { real x; }\n"
               "model { target += sum(gp_exp_quad_cov(a, b, 1, 1)) * x; }",
               R"({"a": [[1, 2], [3, 4]], "b": [[1, 2, 3], [4, 5, 6]]})");
  });
  BOOST_TEST(contains(msg, "the points have 2 and 3 dimensions"), msg);
  msg = error_of([] { make_model("parameters { real x; } model { target += sum(gp_exp_quad_cov({1.0, 2.0}, 1, 1, 1)); }"); });
  BOOST_TEST(contains(msg, "no matching signature for gp_exp_quad_cov"), msg);
  auto m = make_model("data { array[2] real a; } parameters { real r; } model { target += sum(gp_exp_quad_cov(a, 1, r)); }",
                      R"({"a": [1, 2]})");
  BOOST_TEST(!std::isfinite(lp(*m, {-1.0})));  // a length scale of -1: the check fails, the density is -inf
}
