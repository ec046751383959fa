// Dense linear algebra (stdlib/linear_algebra.cpp and the IR's Cholesky, TriSolve and
// Solve ops): values against R (chol, forwardsolve, solve; the numbers are R's, printed
// with 17 digits, and kept here), gradients against finite differences, and the errors
// (sizes at compile time, non-symmetric or non-positive-definite matrices at run time).
#define BOOST_TEST_MODULE linear_algebra
#include "tests/support/model_fixture.hpp"

#include "kernels/eval_context.hpp"

#include <map>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;

void check_values(const Vec& got, const Vec& want, const std::string& what, double tol = 1e-13) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST_REQUIRE(got.size() == want.size());
    for (size_t k = 0; k < got.size(); ++k)
      BOOST_TEST(close(got[k], want[k], tol), "element " << k << ": " << got[k] << " vs R's " << want[k]);
  }
}

const char* kData = R"({"S": [[2, 0.3, -0.4], [0.3, 1.5, 0.2], [-0.4, 0.2, 1.0]],
  "A": [[0, 2, 1], [1, 1, 0], [3, 0, 1]], "B": [[1, 3], [-2, 0.25], [0.5, -1]], "b": [1, 2, 3],
  "M": [[1, 9, 9], [2, 3, 9], [4, 5, 6]], "X": [[1, -1, 3], [2, 0.5, -2]]})";

const char* kDataDecls = R"(data {
  matrix[3, 3] S; matrix[3, 3] A; matrix[3, 2] B; vector[3] b; matrix[3, 3] M; matrix[2, 3] X;
}
)";

}  // namespace

BOOST_AUTO_TEST_CASE(values_against_r) {
  auto m = make_model(std::string(kDataDecls) + R"(
parameters { real dummy; }
model { dummy ~ normal(0, 1); }
generated quantities {
  matrix[3, 3] L = cholesky_decompose(S);
  vector[3] tri_left = mdivide_left_tri_low(L, b);
  matrix[3, 2] tri_left_matrix = mdivide_left_tri_low(L, B);
  row_vector[3] tri_right = mdivide_right_tri_low(b', L);
  vector[3] left = A \ b;
  vector[3] left_fn = mdivide_left(A, b);
  matrix[3, 2] left_matrix = A \ B;
  row_vector[3] right = b' / A;
  matrix[2, 3] right_matrix = B' / A;
  matrix[3, 3] inv = inverse(A);
  vector[3] spd_left = mdivide_left_spd(S, b);
  row_vector[3] spd_right = mdivide_right_spd(b', S);
  matrix[3, 3] inv_spd = inverse_spd(S);
  real qf = quad_form(S, b);
  real qf_sym = quad_form_sym(S, b);
  matrix[2, 2] qf_matrix = quad_form(S, B);
  matrix[3, 3] qfd = quad_form_diag(S, b);
  real log_det = log_determinant_spd(S);
  matrix[3, 3] lower_self = multiply_lower_tri_self_transpose(M);
  matrix[2, 2] tcross = tcrossprod(X);
  matrix[3, 3] cross = crossprod(X);
  matrix[3, 3] with_diag = add_diag(S, b);
  matrix[3, 3] with_scalar_diag = add_diag(S, 2);
  vector[3] diag = diagonal(S);
  real tr = trace(S);
  matrix[3, 3] I = identity_matrix(3);
}
)",
                      kData);
  Vec theta{0.0};
  std::map<std::string, Vec> r{
      {"L", {1.4142135623730951, 0.21213203435596423, -0.28284271247461901, 0, 1.2062338081814818,
             0.21554693479531636, 0, 0, 0.9346333606823285}},
      {"tri_left", {0.70710678118654746, 1.533699343735905, 3.0700977819423461}},
      {"tri_left_matrix", {0.70710678118654746, -1.7824073454228082, 1.1600189822788145, 2.1213203435596424,
                           -0.16580533445793558, -0.38973696393519608}},
      {"tri_right", {1.1863980140201045, 1.0844781901086906, 3.2098148067493026}},
      {"left", {1.2, 0.80000000000000004, -0.60000000000000009}},
      {"left_fn", {1.2, 0.80000000000000004, -0.60000000000000009}},
      {"left_matrix", {-0.90000000000000002, -1.1000000000000001, 3.2000000000000002, -0.70000000000000007,
                       0.94999999999999996, 1.1000000000000001}},
      {"right", {2, -2, 1.0000000000000002}},
      {"right_matrix", {-0.29999999999999993, -1.1500000000000001, -1.4000000000000001, 2.5500000000000003,
                        0.80000000000000004, 0.14999999999999991}},
      {"inv", {-0.20000000000000004, 0.19999999999999996, 0.60000000000000009, 0.40000000000000008,
               0.60000000000000009, -1.2000000000000002, 0.19999999999999998, -0.20000000000000001,
               0.40000000000000002}},
      {"spd_left", {1.0542879622344614, 0.68450039339103064, 3.2848151062155786}},
      {"spd_right", {1.054287962234461, 0.68450039339103075, 3.284815106215579}},
      {"inv_spd", {0.57435090479937057, -0.14948859166011014, 0.25963808025177026, -0.14948859166011016,
                   0.72383949645948076, -0.20456333595594023, 0.25963808025177032, -0.20456333595594026,
                   1.1447678992918964}},
      {"qf", {18.2}},
      {"qf_sym", {18.2}},
      {"qf_matrix", {6.25, 3.25, 3.25, 21.84375}},
      {"qfd", {2, 0.6, -1.2, 0.6, 6, 1.2, -1.2, 1.2, 9}},
      {"log_det", {0.93295117276726225}},
      {"lower_self", {1, 2, 4, 2, 13, 23, 4, 23, 77}},
      {"tcross", {11, -4.5, -4.5, 8.25}},
      {"cross", {5, 0, -1, 0, 1.25, -4, -1, -4, 13}},
      {"with_diag", {3, 0.3, -0.4, 0.3, 3.5, 0.2, -0.4, 0.2, 4}},
      {"with_scalar_diag", {4, 0.3, -0.4, 0.3, 3.5, 0.2, -0.4, 0.2, 3}},
      {"diag", {2, 1.5, 1}},
      {"tr", {4.5}},
      {"I", {1, 0, 0, 0, 1, 0, 0, 0, 1}},
  };
  for (auto& [name, want] : r) check_values(output_values(*m, theta, name), want, name);
}

// Every function with parameters in every argument, summed with weights into the
// density: the gradient against finite differences. A = P + 0.3 Z (P a scaled
// permutation) makes the general solve pivot; SPD matrices are Z Z' + 2 I.
BOOST_AUTO_TEST_CASE(gradients_against_finite_differences) {
  auto m = make_model(R"(
data { matrix[3, 3] W; }
parameters { matrix[3, 3] Z; vector[3] v; matrix[3, 2] C; }
model {
  matrix[3, 3] S = tcrossprod(Z) + diag_matrix(rep_vector(2, 3));
  matrix[3, 3] A = [[0, 2, 1], [1, 1, 0], [3, 0, 1]] + 0.3 * Z;
  matrix[3, 3] L = cholesky_decompose(S);
  target += sum(L .* W);
  target += sum(mdivide_left_tri_low(L, v)) + sum(mdivide_left_tri_low(L, C) .* W[:, 1:2]);
  target += sum(mdivide_right_tri_low(v', L) .* W[1]);
  target += sum((A \ v) .* W[:, 3]) + sum((A \ C) .* W[:, 2:3]);
  target += sum((v' / A) .* W[2]) + sum((C' / A) .* W[1:2, :]);
  target += sum(inverse(A) .* W) + sum(inverse_spd(S) .* W);
  target += sum(mdivide_left_spd(S, v)) + sum(mdivide_right_spd(v', S) .* W[3]);
  target += quad_form(S, v) * 0.1 + sum(quad_form_sym(S, C) .* W[1:2, 1:2]) + sum(quad_form_diag(S, v) .* W);
  target += log_determinant_spd(S) + sum(multiply_lower_tri_self_transpose(Z) .* W);
  target += trace(crossprod(Z)) * 0.1 + sum(diagonal(add_diag(S, v)));
}
)",
                      R"({"W": [[0.5, -1.2, 0.8], [1.1, 0.3, -0.7], [-0.4, 0.9, 1.3]]})");
  std::mt19937_64 rng(11);
  for (int k = 0; k < 4; ++k) check_gradient(*m, random_theta(rng, 18, -0.8, 0.8), true, 1e-6, "linear algebra");
}

// A symmetric A read through its lower triangle only: the gradient of a density in
// cholesky_decompose(A) where A's upper triangle is a different (but equal-valued)
// expression still matches finite differences, and a Cholesky factor used as a whole
// (zeros above the diagonal included) sends no gradient through those zeros.
BOOST_AUTO_TEST_CASE(cholesky_gradient_of_a_gp) {
  auto m = make_model(R"(
data { array[4] real x; vector[4] y; }
parameters { real<lower=0> rho; real<lower=0> alpha; real<lower=0> sigma; }
model {
  matrix[4, 4] K = gp_exp_quad_cov(x, alpha, rho) + diag_matrix(rep_vector(square(sigma), 4));
  matrix[4, 4] L = cholesky_decompose(K);
  y ~ multi_normal_cholesky(rep_vector(0, 4), L);
  target += sum(L) * 0.01;
}
)",
                      R"({"x": [0.1, 0.7, 1.5, 2.2], "y": [0.3, -0.2, 0.9, 0.4]})");
  std::mt19937_64 rng(5);
  for (int k = 0; k < 4; ++k) check_gradient(*m, random_theta(rng, 3, -1, 1), true, 1e-6, "GP marginal likelihood");
}

BOOST_AUTO_TEST_CASE(errors_at_compile_time) {
  std::string msg = error_of([] {
    make_model("parameters { real x; } model { matrix[2, 3] A = rep_matrix(x, 2, 3); target += sum(cholesky_decompose(A)); }");
  });
  BOOST_TEST(contains(msg, "cholesky_decompose: the matrix must be square, but it is 2 x 3"), msg);
  BOOST_TEST(contains(msg, "test.lat:1:"), msg);
  msg = error_of([] {
    make_model("parameters { vector[2] v; } model { matrix[3, 3] A = diag_matrix(rep_vector(1, 3)); target += sum(A \\ v); }");
  });
  BOOST_TEST(contains(msg, "mdivide_left: the sizes do not match: a 3 x 3 matrix and a right-hand side of 2 rows"), msg);
  msg = error_of([] {
    make_model("parameters { row_vector[2] v; } model { target += sum(v / diag_matrix(rep_vector(1, 3))); }");
  });
  BOOST_TEST(contains(msg, "mdivide_right: the sizes do not match"), msg);
  msg = error_of([] { make_model("parameters { vector[2] v; } model { target += sum(cholesky_decompose(v)); }"); });
  BOOST_TEST(contains(msg, "no matching signature for cholesky_decompose(vector)"), msg);
  msg = error_of([] {
    make_model("parameters { vector[2] v; } model { target += quad_form_diag(diag_matrix(v), [1, 2, 3]'); }");
  });
  BOOST_TEST(contains(msg, "quad_form_diag: the matrix is 2 x 2, but the vector has 3 elements"), msg);
}

// Values known only at run time: the check fails, the density is -inf and the message
// names the function, the problem and the place.
BOOST_AUTO_TEST_CASE(errors_at_run_time) {
  auto m = make_model(R"(
parameters { real a; }
model {
  matrix[2, 2] S = [[1, a], [a, 1]];
  target += sum(cholesky_decompose(S));
}
)");
  BOOST_TEST(std::isfinite(lp(*m, {0.5})));
  BOOST_TEST(!std::isfinite(lp(*m, {1.5})));  // not positive definite
  std::string msg = failure_message(*m, {1.5});
  BOOST_TEST(contains(msg, "cholesky_decompose: the matrix is not positive definite (first failing row = 2)"), msg);
  BOOST_TEST(contains(msg, "test.lat:5:"), msg);
  auto asym = make_model(R"(
parameters { real a; }
model { target += sum(cholesky_decompose([[2, a], [0, 2]])); }
)");
  BOOST_TEST(std::isfinite(lp(*asym, {0.0})));
  BOOST_TEST(!std::isfinite(lp(*asym, {0.5})));
  msg = failure_message(*asym, {0.5});
  BOOST_TEST(contains(msg, "cholesky_decompose: the matrix is not symmetric"), msg);
}

// A data matrix that is not positive definite is refused when the data is bound
// (the checks on data alone run once, then).
BOOST_AUTO_TEST_CASE(data_that_is_not_positive_definite) {
  std::string msg = error_of([] {
    make_model("data { matrix[2, 2] S; } parameters { real x; } model { x ~ normal(0, 1); }\n"
               "generated quantities { matrix[2, 2] L = cholesky_decompose(S); }",
               R"({"S": [[1, 2], [2, 1]]})");
  });
  BOOST_TEST(contains(msg, "cholesky_decompose: the matrix is not positive definite"), msg);
}

// eigenvalues_sym and eigenvectors_sym against R's eigen(S, symmetric = TRUE), in
// ascending order, each vector's largest component positive (R's signs normalised
// the same way); A = V diag(lambda) V' and V'V = I for a larger matrix; gradients of
// both against finite differences.
BOOST_AUTO_TEST_CASE(symmetric_eigendecomposition) {
  auto m = make_model(std::string(kDataDecls) + R"(
parameters { real dummy; }
model { dummy ~ normal(0, 1); }
generated quantities {
  vector[3] values = eigenvalues_sym(S);
  matrix[3, 3] vectors = eigenvectors_sym(S);
}
)",
                      kData);
  check_values(output_values(*m, {0.0}, "values"), {0.74471716019819023, 1.5427371441358975, 2.2125456956659142}, "values",
               1e-13);
  check_values(output_values(*m, {0.0}, "vectors"),
               {0.36118724429654731, -0.37010780876250382, 0.85589951773002204, -0.17731136430840017,
                0.87385664821085229, 0.45269773410609071, 0.91548045017059765, 0.31526935828068198,
                -0.25000155416462305},
               "vectors", 1e-12);
  auto big = make_model(R"(
transformed data {
  matrix[12, 12] A;
  for (i in 1:12) for (j in 1:12) A[i, j] = 1.0 / (i + j - 1) + (i == j ? i : 0);
}
parameters { real dummy; }
model { dummy ~ normal(0, 1); }
generated quantities {
  vector[12] l = eigenvalues_sym(A);
  matrix[12, 12] V = eigenvectors_sym(A);
  real reconstruction = max(abs(V * diag_matrix(l) * V' - A));
  real orthogonality = max(abs(crossprod(V) - identity_matrix(12)));
  real ascending = min(tail(l, 11) - head(l, 11));
}
)");
  BOOST_TEST(output_values(*big, {0.0}, "reconstruction").at(0) < 1e-12);
  BOOST_TEST(output_values(*big, {0.0}, "orthogonality").at(0) < 1e-12);
  BOOST_TEST(output_values(*big, {0.0}, "ascending").at(0) > 0);
  auto g = make_model(R"(
data { matrix[3, 3] W; }
parameters { matrix[3, 3] Z; }
model {
  matrix[3, 3] S = 0.5 * tcrossprod(Z) + diag_matrix([1, 2, 3]');
  target += dot_product(eigenvalues_sym(S), W[1]') + sum(eigenvectors_sym(S) .* W);
}
)",
                      R"({"W": [[0.5, -1.2, 0.8], [1.1, 0.3, -0.7], [-0.4, 0.9, 1.3]]})");
  std::mt19937_64 rng(12);
  for (int k = 0; k < 4; ++k) check_gradient(*g, random_theta(rng, 9, -0.6, 0.6), true, 1e-6, "eigendecomposition");
  std::string msg = error_of([] { make_model("parameters { real x; } model { target += sum(eigenvalues_sym([[1, x, 0]])); }"); });
  BOOST_TEST(contains(msg, "eigenvalues_sym: the matrix must be square, but it is 1 x 3"), msg);
}
