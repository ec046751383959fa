// Stan's unit_vector and sum_to_zero_vector, end to end through BoundModel: the
// transforms against hand-written ones (and against rstan's log density for
// unit_vector), the log-Jacobian terms, the transform's geometry (unit norms;
// zero sums and orthonormal columns, by finite differences), round trips through
// the inverse used for initial values, gradients against finite differences,
// arrays, and the checks of data, transformed data, transformed parameters,
// generated quantities and initial values.
#define BOOST_TEST_MODULE vector_types
#include "tests/support/model_fixture.hpp"

#include "kernels/eval_context.hpp"

#include <numeric>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;

std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

std::string json_vector(const Vec& x, size_t begin, size_t end) {
  std::string s = "[";
  for (size_t i = begin; i < end; ++i) s += (i > begin ? ", " : "") + num(x[i]);
  return s + "]";
}

double dot(const Vec& a, const Vec& b) { return std::inner_product(a.begin(), a.end(), b.begin(), 0.0); }

// unit_vector: x = y / |y|.
Vec unit(const Vec& y) {
  double n = std::sqrt(dot(y, y));
  Vec x;
  for (double v : y) x.push_back(v / n);
  return x;
}

// sum_to_zero_vector, as written in Stan's reference manual ("Zero sum vector
// inverse transform"), 1-based: x_1 = sum_{n=1}^N y_n / sqrt(n (n + 1)), and
// x_{n+1} = sum_{i=n+1}^N y_i / sqrt(i (i + 1)) - n y_n / sqrt(n (n + 1)).
Vec sum_to_zero(const Vec& y) {
  size_t N = y.size();
  auto w = [&](size_t i) { return y[i - 1] / std::sqrt(static_cast<double>(i) * static_cast<double>(i + 1)); };
  Vec x(N + 1, 0.0);
  for (size_t n = 1; n <= N; ++n) x[0] += w(n);
  for (size_t n = 1; n <= N; ++n) {
    double tail = 0;
    for (size_t i = n + 1; i <= N; ++i) tail += w(i);
    x[n] = tail - static_cast<double>(n) * w(n);
  }
  return x;
}

double normal_lpdf(double x, double mu, double sigma) {
  double z = (x - mu) / sigma;
  return -0.5 * z * z - std::log(sigma) - 0.5 * std::log(2 * M_PI);
}

// The determinant of a small symmetric matrix (row-major n x n), by elimination.
double determinant(Vec a, size_t n) {
  double det = 1;
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::fabs(a[r * n + c]) > std::fabs(a[p * n + c])) p = r;
    if (a[p * n + c] == 0) return 0;
    if (p != c) {
      for (size_t k = 0; k < n; ++k) std::swap(a[p * n + k], a[c * n + k]);
      det = -det;
    }
    det *= a[c * n + c];
    for (size_t r = c + 1; r < n; ++r) {
      double f = a[r * n + c] / a[c * n + c];
      for (size_t k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
    }
  }
  return det;
}

// d(outputs[0..rows)) / d(theta), by central differences (the transform of a
// sum_to_zero_vector is linear: they are exact up to rounding). Column-major.
Vec numerical_jacobian(const BoundModel& m, const Vec& theta, size_t rows) {
  Vec J(rows * theta.size());
  for (size_t j = 0; j < theta.size(); ++j) {
    Vec plus = theta, minus = theta;
    plus[j] += 1e-4;
    minus[j] -= 1e-4;
    Vec a = m.constrained_outputs(plus.data()), b = m.constrained_outputs(minus.data());
    for (size_t i = 0; i < rows; ++i) J[i + j * rows] = (a[i] - b[i]) / 2e-4;
  }
  return J;
}

Vec init_round_trip(const BoundModel& m, const std::string& json) {
  std::mt19937_64 rng(1);
  return m.unconstrain(DataSet::from_json_string(json, "init.json"), rng);
}

}  // namespace

// ============================================================================================
// unit_vector
// ============================================================================================

BOOST_AUTO_TEST_SUITE(unit_vector)

BOOST_AUTO_TEST_CASE(transform_log_jacobian_gradient_and_inverse) {
  // Stan: K unconstrained values, x = y / |y|, and -y'y / 2 added with the Jacobian.
  const Vec c{0.5, -1, 2};
  auto m = make_model("data { vector[3] c; } parameters { unit_vector[3] u; } model { target += dot_product(c, u); }",
                      R"({"c": [0.5, -1, 2]})");
  BOOST_TEST(m->num_unconstrained() == 3);
  BOOST_TEST(m->output_names() == (std::vector<std::string>{"u.1", "u.2", "u.3"}), boost::test_tools::per_element());
  std::mt19937_64 rng(11);
  for (int k = 0; k < 5; ++k) {
    Vec y = random_theta(rng, 3, -2, 2);
    Vec want = unit(y);
    Vec x = m->constrained_outputs(y.data());
    BOOST_TEST(x.size() == 3u);
    for (size_t i = 0; i < 3 && i < x.size(); ++i) BOOST_TEST(close(x[i], want[i], 1e-14), i << ": " << x[i]);
    BOOST_TEST(close(dot(x, x), 1.0, 1e-14));
    // the density by hand, without and with the term
    BOOST_TEST(close(lp(*m, y, false), dot(c, want), 1e-13), lp(*m, y, false) << " vs " << dot(c, want));
    BOOST_TEST(close(lp(*m, y, true) - lp(*m, y, false), -0.5 * dot(y, y), 1e-13));
    check_gradient(*m, y, true, 1e-6, "jacobian");
    check_gradient(*m, y, false, 1e-6, "no jacobian");
    // The inverse (for initial values) is the identity on the sphere: unconstrain(x)
    // = x, constrain(x) = x, and unconstrain(constrain(y)) = y / |y|.
    Vec back = init_round_trip(*m, "{\"u\": " + json_vector(x, 0, 3) + "}");
    BOOST_TEST(back.size() == 3u);
    for (size_t i = 0; i < 3 && i < back.size(); ++i) BOOST_TEST(close(back[i], want[i], 1e-14));
    Vec again = m->constrained_outputs(back.data());
    for (size_t i = 0; i < 3 && i < again.size(); ++i) BOOST_TEST(close(again[i], x[i], 1e-14));
  }
  // Scaling y does not move x; it changes only the -y'y / 2 term.
  Vec y{0.3, -0.4, 1.2}, y3{0.9, -1.2, 3.6};
  Vec a = m->constrained_outputs(y.data()), b = m->constrained_outputs(y3.data());
  for (size_t i = 0; i < 3; ++i) BOOST_TEST(close(a[i], b[i], 1e-15));
  BOOST_TEST(close(lp(*m, y3, true) - lp(*m, y, true), -0.5 * (dot(y3, y3) - dot(y, y)), 1e-12));
}

BOOST_AUTO_TEST_CASE(log_density_matches_rstan) {
  // rstan 2.21.7 (log_prob with and without adjust_transform, grad_log_prob and
  // unconstrain_pars) on this program (with the old array syntax `unit_vector[2]
  // v[2]`, all rstan 2.21 reads); the numbers are stored here.
  auto m = make_model(
      "data { vector[3] m; }\n"
      "parameters { unit_vector[3] u; real<lower=0> k; array[2] unit_vector[2] v; }\n"
      "model {\n"
      "  target += k * dot_product(m, u);\n"
      "  target += exponential_lpdf(k | 1);\n"
      "  for (i in 1:2) target += normal_lpdf(v[i] | 0.3, 2);\n"
      "}",
      R"({"m": [0.5, -1, 2]})");
  BOOST_TEST(m->num_unconstrained() == 8);
  struct Point {
    Vec theta;
    double lp_jacobian, lp_no_jacobian;
    Vec gradient;
  };
  const std::vector<Point> points{
      {{0.3, -1.2, 0.8, 0.1, 1.5, -0.4, 0.2, 0.9},
       -8.107682269186675, -5.492682269186675,
       {-0.23085355718443556, 1.6736531332866171, -0.11545021612591166, 2.108033850343533, -1.484764760288445,
        0.457132148918331, -0.1397060933415794, -0.9133986459240934}},
      {{-2.0, 0.5, 1.1, -0.7, 0.25, 0.5, -1.3, -0.6},
       -11.70131819318058, -7.09006819318058,
       {2.160751468972704, -0.7261418970293974, -0.704932830490812, 0.6521779200375675, -0.19633436854000505,
        -0.5268328157299975, 1.2892680222845163, 0.6232526183835482}},
      {{1.0, 1.0, 1.0, 0.0, 3.0, 4.0, -0.1, 0.05},
       -20.81210847093653, -6.80585847093653,
       {-1.0, -1.8660254037844388, -0.13397459621556118, 0.8660254037844388, -2.9976, -4.0018, 0.5024922359499624, 0.754984471899924}},
  };
  const Vec rstan_unconstrained{0.6, 0.0, 0.8, 0.6931471805599453, 1.0, 0.0, 0.6, -0.8};
  for (const Point& p : points) {
    BOOST_TEST_CONTEXT("theta = " << vec_str(p.theta)) {
      BOOST_TEST(close(lp(*m, p.theta, true), p.lp_jacobian, 1e-12), lp(*m, p.theta, true) << " vs " << p.lp_jacobian);
      BOOST_TEST(close(lp(*m, p.theta, false), p.lp_no_jacobian, 1e-12),
                 lp(*m, p.theta, false) << " vs " << p.lp_no_jacobian);
      Vec g = gradient(*m, p.theta, true);
      for (size_t i = 0; i < g.size(); ++i) BOOST_TEST(close(g[i], p.gradient[i], 1e-10), i << ": " << g[i]);
    }
  }
  // rstan's unconstrain_pars(u = (0.6, 0, 0.8), k = 2, v = ((1, 0), (0.6, -0.8))).
  Vec back = init_round_trip(*m, R"({"u": [0.6, 0, 0.8], "k": 2, "v": [[1, 0], [0.6, -0.8]]})");
  BOOST_TEST(back.size() == rstan_unconstrained.size());
  for (size_t i = 0; i < back.size() && i < rstan_unconstrained.size(); ++i)
    BOOST_TEST(close(back[i], rstan_unconstrained[i], 1e-14), i << ": " << back[i]);
}

BOOST_AUTO_TEST_CASE(arrays_each_vector_on_its_own) {
  // array[2] unit_vector[3]: vector 1 from theta[0..2], vector 2 from theta[3..5]; CmdStan's column order.
  auto m = make_model(
      "parameters { array[2] unit_vector[3] u; real s; }\n"
      "model { for (i in 1:2) u[i] ~ normal(0.2 * i, 1); s ~ normal(0, 1); }");
  BOOST_TEST(m->num_unconstrained() == 7);
  std::vector<std::string> names = m->output_names();
  BOOST_TEST(names == (std::vector<std::string>{"u.1.1", "u.2.1", "u.1.2", "u.2.2", "u.1.3", "u.2.3", "s"}),
             boost::test_tools::per_element());
  std::mt19937_64 rng(12);
  for (int k = 0; k < 4; ++k) {
    Vec theta = random_theta(rng, 7, -2, 2);
    Vec u1 = unit({theta[0], theta[1], theta[2]}), u2 = unit({theta[3], theta[4], theta[5]});
    for (size_t j = 0; j < 3; ++j) {
      BOOST_TEST(close(output(*m, theta, "u.1." + std::to_string(j + 1)), u1[j], 1e-14));
      BOOST_TEST(close(output(*m, theta, "u.2." + std::to_string(j + 1)), u2[j], 1e-14));
    }
    double want = -0.5 * theta[6] * theta[6];  // `~` drops the constants
    for (size_t j = 0; j < 3; ++j) want += -0.5 * (u1[j] - 0.2) * (u1[j] - 0.2) - 0.5 * (u2[j] - 0.4) * (u2[j] - 0.4);
    BOOST_TEST(close(lp(*m, theta, false), want, 1e-13));
    double squares = 0;
    for (size_t i = 0; i < 6; ++i) squares += theta[i] * theta[i];
    BOOST_TEST(close(lp(*m, theta, true) - lp(*m, theta, false), -0.5 * squares, 1e-13));
    check_gradient(*m, theta, true, 1e-6, "array, jacobian");
    check_gradient(*m, theta, false, 1e-6, "array, no jacobian");
  }
  // Initial values: each vector checked and kept; the message names the vector.
  Vec back = init_round_trip(*m, R"({"u": [[0, 1, 0], [0.6, 0, -0.8]], "s": 0.5})");
  BOOST_TEST(vec_str(back) == vec_str({0, 1, 0, 0.6, 0, -0.8, 0.5}));
  std::string msg = user_error([&] { init_round_trip(*m, R"({"u": [[0, 1, 0], [0.6, 0.1, -0.8]], "s": 0})"); });
  BOOST_TEST(contains(msg, "init.json: parameter 'u': vector 2: a unit_vector must have length 1, but the sum of the "
                           "squares of its elements is 1.01"),
             msg);
}

BOOST_AUTO_TEST_CASE(undefined_at_zero) {
  // Stan rejects y = 0 (the norm must be positive): the density fails its check there.
  auto m = make_model("parameters { unit_vector[2] u; } model { }");
  EvalContext ctx;
  Vec zero{0, 0};
  double v = m->log_density(zero.data(), nullptr, true, &ctx);
  BOOST_TEST(!std::isfinite(v));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "the unconstrained values of a unit_vector must not all be 0"),
             ctx.failure_text());
  EvalContext fine;
  Vec y{0, 1e-3};
  BOOST_TEST(std::isfinite(m->log_density(y.data(), nullptr, true, &fine)));
  BOOST_TEST(!fine.failed);
}

BOOST_AUTO_TEST_CASE(data_checks) {
  const std::string program = "data { unit_vector[3] d; array[2] unit_vector[2] e; } parameters { real x; } model { }";
  auto ok = make_model(program, R"({"d": [0.6, 0, 0.8], "e": [[1, 0], [0, -1]]})");
  BOOST_TEST(ok->num_unconstrained() == 1);
  // within Stan's tolerance of 1e-8 on the sum of squares
  make_model(program, R"({"d": [0.6, 0, 0.800000001], "e": [[1, 0], [0, -1]]})");
  std::string msg = user_error([&] { make_model(program, R"({"d": [0.6, 0.1, 0.8], "e": [[1, 0], [0, -1]]})"); });
  BOOST_TEST(contains(msg, "data.json: field 'd': a unit_vector must have length 1, but the sum of the squares of its "
                           "elements is 1.01"),
             msg);
  msg = user_error([&] { make_model(program, R"({"d": [0.6, 0, 0.8], "e": [[1, 0], [0.5, 0.5]]})"); });
  BOOST_TEST(contains(msg, "field 'e': a unit_vector must have length 1, but the sum of the squares of its elements is "
                           "0.5 (element [2] of the array)"),
             msg);
  // transformed data
  msg = user_error([] {
    make_model("transformed data { unit_vector[2] t = [1, 1]'; } parameters { real x; } model { }");
  });
  BOOST_TEST(contains(msg, "transformed data variable 't': a unit_vector must have length 1, but the sum of the "
                           "squares of its elements is 2"),
             msg);
  make_model("transformed data { unit_vector[2] t = [sqrt(0.5), -sqrt(0.5)]'; } parameters { real x; } model { }");
  // size 0: Stan's check_nonzero_size
  msg = user_error([] { make_model("parameters { unit_vector[0] u; } model { }"); });
  BOOST_TEST(contains(msg, "unit_vector 'u' has size 0: a unit_vector needs at least one element"), msg);
}

BOOST_AUTO_TEST_CASE(transformed_parameters_and_generated_quantities_are_checked) {
  auto m = make_model(
      "parameters { real a; }\n"
      "transformed parameters {\n  unit_vector[2] t = [a, 1]' / sqrt(square(a) + 1);\n}\n"
      "model { a ~ normal(0, 1); }\n"
      "generated quantities {\n  array[2] unit_vector[2] g;\n  g[1] = t;\n  g[2] = [a, 1]';\n}");
  EvalContext ok;
  Vec zero{0};
  Vec out = m->constrained_outputs(zero.data(), &ok);  // g[2] = (0, 1)
  BOOST_TEST(!ok.failed, ok.failure_text());
  BOOST_TEST(close(lp(*m, Vec{0.7}), -0.5 * 0.49, 1e-15));  // t is a unit vector for every a
  EvalContext bad;
  Vec half{0.5};
  m->constrained_outputs(half.data(), &bad);  // g[2] = (0.5, 1)
  BOOST_TEST(bad.failed);
  BOOST_TEST(contains(bad.failure_text(), "generated quantities variable 'g' is not a valid unit_vector"),
             bad.failure_text());
  BOOST_TEST(contains(bad.failure_text(), "1.25"), bad.failure_text());
  auto tp = make_model(
      "parameters { real a; }\ntransformed parameters {\n  unit_vector[2] t = [a, 1]';\n}\nmodel { a ~ normal(0, 1); }");
  EvalContext tctx;
  BOOST_TEST(!std::isfinite(tp->log_density(half.data(), nullptr, true, &tctx)));
  BOOST_TEST(contains(tctx.failure_text(), "transformed parameters variable 't' is not a valid unit_vector"),
             tctx.failure_text());
  BOOST_TEST(std::isfinite(lp(*tp, zero)));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// sum_to_zero_vector
// ============================================================================================

BOOST_AUTO_TEST_SUITE(sum_to_zero_vector)

BOOST_AUTO_TEST_CASE(transform_round_trip_and_gradient) {
  // K - 1 unconstrained values; Stan's isometric transform; log-Jacobian 0.
  for (int K : {1, 2, 4, 7, 40}) {
    BOOST_TEST_CONTEXT("K = " << K) {
      std::string data = "{\"K\": " + std::to_string(K) + "}";
      auto m = make_model(
          "data { int K; } parameters { sum_to_zero_vector[K] z; }\n"
          "model { for (k in 1:K) target += normal_lpdf(z[k] | 0.1 * k, 1.5); }",
          data);
      const size_t N = static_cast<size_t>(K - 1);
      BOOST_TEST(m->num_unconstrained() == K - 1);
      BOOST_TEST(m->output_names().size() == static_cast<size_t>(K));
      std::mt19937_64 rng(static_cast<uint64_t>(K));
      for (int rep = 0; rep < 3; ++rep) {
        Vec y = random_theta(rng, N, -2, 2);
        Vec want = sum_to_zero(y);
        Vec x = m->constrained_outputs(y.data());
        BOOST_TEST(x.size() == want.size());
        for (size_t i = 0; i < want.size() && i < x.size(); ++i)
          BOOST_TEST(close(x[i], want[i], 1e-13), i << ": " << x[i] << " vs " << want[i]);
        BOOST_TEST(std::fabs(std::accumulate(x.begin(), x.end(), 0.0)) <= 1e-13);
        // an isometry: |x| = |y|
        BOOST_TEST(close(dot(x, x), dot(y, y), 1e-13));
        double density = 0;
        for (size_t k = 0; k < want.size(); ++k) density += normal_lpdf(want[k], 0.1 * static_cast<double>(k + 1), 1.5);
        BOOST_TEST(close(lp(*m, y, false), density, 1e-12), lp(*m, y, false) << " vs " << density);
        BOOST_TEST(lp(*m, y, true) == lp(*m, y, false));  // log-Jacobian 0
        if (N > 0 && N < 10) {
          check_gradient(*m, y, true, 1e-6, "jacobian");
          check_gradient(*m, y, false, 1e-6, "no jacobian");
        }
        // unconstrain(constrain(y)) = y
        std::string init = "{\"z\": " + json_vector(x, 0, x.size()) + "}";
        if (K == 1) init = "{\"z\": [0]}";
        Vec back = init_round_trip(*m, init);
        BOOST_TEST(back.size() == N);
        for (size_t i = 0; i < N && i < back.size(); ++i) BOOST_TEST(close(back[i], y[i], 1e-12), i << ": " << back[i]);
      }
      if (K == 40) {  // the gradient of a long one, at one point
        Vec y = random_theta(rng, N, -1, 1);
        check_gradient(*m, y, true, 1e-6, "K = 40");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(columns_are_orthonormal_and_the_volume_factor_is_one) {
  // The transform is x = H y; its columns (found by finite differences) are
  // orthonormal and sum to 0, so log sqrt(det(H'H)) (the log of the volume factor
  // of the map onto the hyperplane) is 0, the log-Jacobian Stan adds.
  for (size_t K : {2, 3, 5, 8}) {
    BOOST_TEST_CONTEXT("K = " << K) {
      auto m = make_model("parameters { sum_to_zero_vector[" + std::to_string(K) + "] z; } model { }");
      size_t N = K - 1;
      std::mt19937_64 rng(K);
      Vec y = random_theta(rng, N, -1, 1);
      Vec H = numerical_jacobian(*m, y, K);  // K x N, column-major
      Vec gram(N * N);
      for (size_t a = 0; a < N; ++a) {
        double column_sum = 0;
        for (size_t i = 0; i < K; ++i) column_sum += H[i + a * K];
        BOOST_TEST(std::fabs(column_sum) <= 1e-9, "column " << a << " sums to " << column_sum);
        for (size_t b = 0; b < N; ++b) {
          double s = 0;
          for (size_t i = 0; i < K; ++i) s += H[i + a * K] * H[i + b * K];
          gram[a * N + b] = s;
          BOOST_TEST(std::fabs(s - (a == b ? 1.0 : 0.0)) <= 1e-9, "H'H[" << a << ", " << b << "] = " << s);
        }
      }
      double log_volume = 0.5 * std::log(determinant(gram, N));
      BOOST_TEST(std::fabs(log_volume) <= 1e-9, log_volume);
      BOOST_TEST(std::fabs(lp(*m, y, true) - lp(*m, y, false) - log_volume) <= 1e-9);
    }
  }
}

BOOST_AUTO_TEST_CASE(stan_reference_values) {
  // The manual's example values: y = (1, 2) gives x_1 = 1/sqrt(2) + 2/sqrt(6),
  // x_2 = 2/sqrt(6) - 1/sqrt(2), x_3 = -2 * 2/sqrt(6).
  auto m = make_model("parameters { sum_to_zero_vector[3] z; } model { }");
  Vec x = m->constrained_outputs(Vec{1, 2}.data());
  BOOST_TEST(close(x[0], 1 / std::sqrt(2.0) + 2 / std::sqrt(6.0), 1e-15));
  BOOST_TEST(close(x[1], 2 / std::sqrt(6.0) - 1 / std::sqrt(2.0), 1e-15));
  BOOST_TEST(close(x[2], -4 / std::sqrt(6.0), 1e-15));
  // sum_to_zero_vector[2]: (y / sqrt(2), -y / sqrt(2))
  auto two = make_model("parameters { sum_to_zero_vector[2] z; } model { }");
  Vec x2 = two->constrained_outputs(Vec{3}.data());
  BOOST_TEST(close(x2[0], 3 / std::sqrt(2.0), 1e-15));
  BOOST_TEST(close(x2[1], -3 / std::sqrt(2.0), 1e-15));
}

BOOST_AUTO_TEST_CASE(arrays_each_vector_on_its_own) {
  auto m = make_model(
      "parameters { real a; array[3] sum_to_zero_vector[4] z; }\n"
      "model { a ~ normal(0, 1); for (i in 1:3) z[i] ~ normal(a * i, 2); }");
  BOOST_TEST(m->num_unconstrained() == 1 + 3 * 3);
  std::vector<std::string> names = m->output_names();
  BOOST_TEST(names.size() == 13u);
  BOOST_TEST(names[1] == "z.1.1");
  BOOST_TEST(names[2] == "z.2.1");
  BOOST_TEST(names[4] == "z.1.2");
  std::mt19937_64 rng(31);
  for (int rep = 0; rep < 3; ++rep) {
    Vec theta = random_theta(rng, 10, -2, 2);
    double want = -0.5 * theta[0] * theta[0];
    std::string init = "{\"a\": " + num(theta[0]) + ", \"z\": [";
    for (size_t i = 0; i < 3; ++i) {
      Vec z = sum_to_zero({theta[1 + 3 * i], theta[2 + 3 * i], theta[3 + 3 * i]});
      for (size_t k = 0; k < 4; ++k) {
        BOOST_TEST(close(output(*m, theta, "z." + std::to_string(i + 1) + "." + std::to_string(k + 1)), z[k], 1e-14));
        double r = (z[k] - theta[0] * static_cast<double>(i + 1)) / 2;
        want += -0.5 * r * r;
      }
      init += (i ? ", " : "") + json_vector(z, 0, 4);
    }
    init += "]}";
    BOOST_TEST(close(lp(*m, theta, true), want, 1e-13), lp(*m, theta, true) << " vs " << want);
    check_gradient(*m, theta, true, 1e-6, "array");
    Vec back = init_round_trip(*m, init);
    BOOST_TEST(back.size() == theta.size());
    for (size_t i = 0; i < theta.size() && i < back.size(); ++i) BOOST_TEST(close(back[i], theta[i], 1e-12));
  }
  std::string msg =
      user_error([&] { init_round_trip(*m, R"({"a": 0, "z": [[1, -1, 0, 0], [1, 2, 3, -6], [1, 1, 1, 1]]})"); });
  BOOST_TEST(contains(msg, "init.json: parameter 'z': vector 3: a sum_to_zero_vector must sum to 0, but sums to 4"),
             msg);
}

BOOST_AUTO_TEST_CASE(data_checks) {
  const std::string program =
      "data { sum_to_zero_vector[3] d; array[2] sum_to_zero_vector[2] e; } parameters { real x; } model { }";
  make_model(program, R"({"d": [1, -3, 2], "e": [[0.5, -0.5], [0, 0]]})");
  make_model(program, R"({"d": [1, -3, 2.000000001], "e": [[0.5, -0.5], [0, 0]]})");  // within 1e-8
  std::string msg = user_error([&] { make_model(program, R"({"d": [1, -3, 2.5], "e": [[0.5, -0.5], [0, 0]]})"); });
  BOOST_TEST(contains(msg, "data.json: field 'd': a sum_to_zero_vector must sum to 0, but this one sums to 0.5"), msg);
  msg = user_error([&] { make_model(program, R"({"d": [1, -3, 2], "e": [[0.5, -0.5], [0, 1e-6]]})"); });
  BOOST_TEST(contains(msg, "field 'e': a sum_to_zero_vector must sum to 0, but this one sums to 1e-06 (element [2] of "
                           "the array)"),
             msg);
  msg = user_error([] {
    make_model("transformed data { array[2] sum_to_zero_vector[2] t = {[1, -1]', [1, 1]'}; }\n"
               "parameters { real x; } model { }");
  });
  BOOST_TEST(contains(msg, "transformed data variable 't': vector 2: a sum_to_zero_vector must sum to 0, but sums to 2"),
             msg);
  msg = user_error([] { make_model("data { int K; } parameters { sum_to_zero_vector[K] z; } model { }", R"({"K": 0})"); });
  BOOST_TEST(contains(msg, "sum_to_zero_vector 'z' has size 0: a sum_to_zero_vector needs at least one element"), msg);
}

BOOST_AUTO_TEST_CASE(transformed_parameters_and_generated_quantities_are_checked) {
  auto m = make_model(
      "parameters { real a; }\n"
      "transformed parameters {\n  sum_to_zero_vector[3] t = [a, -a, 0]';\n}\n"
      "model { a ~ normal(0, 1); }\n"
      "generated quantities {\n  sum_to_zero_vector[2] g = [a, a - 1]';\n}");
  EvalContext ok;
  Vec out = m->constrained_outputs(Vec{0.5}.data(), &ok);
  BOOST_TEST(!ok.failed, ok.failure_text());
  EvalContext bad;
  m->constrained_outputs(Vec{0.75}.data(), &bad);
  BOOST_TEST(bad.failed);
  BOOST_TEST(contains(bad.failure_text(), "generated quantities variable 'g' is not a valid sum_to_zero_vector"),
             bad.failure_text());
  auto tp = make_model(
      "parameters { real a; }\ntransformed parameters {\n  sum_to_zero_vector[2] t = [a, 1]';\n}\nmodel { }");
  EvalContext tctx;
  BOOST_TEST(!std::isfinite(tp->log_density(Vec{0.5}.data(), nullptr, true, &tctx)));
  BOOST_TEST(contains(tctx.failure_text(), "transformed parameters variable 't' is not a valid sum_to_zero_vector"),
             tctx.failure_text());
  BOOST_TEST(std::isfinite(lp(*tp, Vec{-1})));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Both, with the other types
// ============================================================================================

BOOST_AUTO_TEST_CASE(unconstrained_layout_in_declaration_order) {
  auto m = make_model(
      "parameters { simplex[3] p; unit_vector[2] u; sum_to_zero_vector[3] z; real<lower=0> s; }\n"
      "model { s ~ exponential(1); }");
  BOOST_TEST(m->num_unconstrained() == 2 + 2 + 2 + 1);
  Vec theta{0.1, -0.2, 3, 4, 1, 2, 0.25};
  Vec out = m->constrained_outputs(theta.data());
  BOOST_TEST(out.size() == 3u + 2 + 3 + 1);
  BOOST_TEST(close(out[3], 0.6, 1e-15));
  BOOST_TEST(close(out[4], 0.8, 1e-15));
  Vec z = sum_to_zero({1, 2});
  for (size_t k = 0; k < 3; ++k) BOOST_TEST(close(out[5 + k], z[k], 1e-15));
  BOOST_TEST(close(out[8], std::exp(0.25), 1e-15));
  // the Jacobian terms: the simplex's, unit_vector's -y'y/2, sum_to_zero's 0, the bound's u
  auto plain = make_model("parameters { simplex[3] p; } model { }");
  double simplex_lj = lp(*plain, Vec{0.1, -0.2}, true) - lp(*plain, Vec{0.1, -0.2}, false);
  BOOST_TEST(close(lp(*m, theta, true) - lp(*m, theta, false), simplex_lj - 12.5 + 0.25, 1e-13));
}

BOOST_AUTO_TEST_CASE(constraints_on_the_types_are_errors) {
  for (std::string type : {"unit_vector", "sum_to_zero_vector"}) {
    std::string msg = user_error([&] { make_model("parameters { " + type + "<lower=0>[3] u; } model { }"); });
    BOOST_TEST(contains(msg, "'" + type + "' cannot have <...> constraints"), msg);
    msg = user_error([&] { make_model("parameters { real x; } model { " + type + "[3] u; }"); });
    BOOST_TEST(contains(msg, "cannot have the constrained type " + type), msg);
  }
}

// A simplex of one element has no free values and is [1] (a fuzzer found
// simplex[1] an internal error); next to a simplex with free values in an array.
BOOST_AUTO_TEST_CASE(a_simplex_of_one_element_is_one) {
  auto m = make_model("parameters { array[2] simplex[1] s; simplex[2] w; } model { w ~ dirichlet([2, 3]'); }");
  BOOST_TEST(m->num_unconstrained() == 1);
  Vec theta{0.3};
  Vec out = m->constrained_outputs(theta.data());
  BOOST_TEST(out.size() == 4u);
  BOOST_TEST(out[0] == 1.0);
  BOOST_TEST(out[1] == 1.0);
  BOOST_TEST(close(out[2] + out[3], 1.0, 1e-15));
  check_gradient(*m, theta, true, 1e-6, "jacobian");
}
