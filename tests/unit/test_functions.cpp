// User-defined functions through the whole pipeline (parse -> check -> inline
// while lowering -> differentiate -> JIT): values against closed forms written
// out here, gradients against finite differences, returns under conditions
// known from data and known only at run time, recursion driven by data,
// overload resolution, user-defined densities with `~` and `target +=`
// against the library's, _lp functions, void functions with print and reject,
// and posteriordb-style programs against the same model written without
// functions. Error messages are golden tests (tests/golden/bad/functions/).
#define BOOST_TEST_MODULE functions
#include "tests/support/model_fixture.hpp"

#include <chrono>
#include <iomanip>
#include <numeric>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;
using Box = std::vector<std::pair<double, double>>;

const double kLogSqrt2Pi = 0.5 * std::log(2 * M_PI);

Vec draw(std::mt19937_64& rng, const Box& box) {
  Vec theta;
  for (auto [lo, hi] : box) theta.push_back(std::uniform_real_distribution<double>(lo, hi)(rng));
  return theta;
}

// The model's log density equals ref at `points` random points of `box` (1e-10
// relative) and its gradient equals finite differences.
void check_model(const std::string& label, const std::string& model, const std::string& data, const Box& box,
                 const std::function<double(const Vec&)>& ref, int points = 4) {
  BOOST_TEST_CONTEXT(label << "\nmodel:\n" << model) {
    try {
      auto m = make_model(model, data);
      BOOST_TEST_REQUIRE(m->num_unconstrained() == static_cast<int64_t>(box.size()));
      std::mt19937_64 rng(11);
      for (int k = 0; k < points; ++k) {
        Vec theta = draw(rng, box);
        double want = ref(theta), got = lp(*m, theta);
        BOOST_TEST(close(got, want, 1e-10), "at " << vec_str(theta) << ": log density " << std::setprecision(17) << got
                                                  << ", reference " << want);
        check_gradient(*m, theta, true, 1e-6, label);
      }
    } catch (const std::exception& e) {
      BOOST_ERROR(label << ": exception: " << e.what());
    }
  }
}

// Two programs give the same log density and gradient at random points of `box`.
void check_same(const std::string& label, const std::string& a, const std::string& b, const std::string& data,
                const Box& box, double tol = 1e-12) {
  BOOST_TEST_CONTEXT(label) {
    try {
      auto ma = make_model(a, data), mb = make_model(b, data);
      BOOST_TEST_REQUIRE(ma->num_unconstrained() == static_cast<int64_t>(box.size()));
      BOOST_TEST_REQUIRE(mb->num_unconstrained() == static_cast<int64_t>(box.size()));
      std::mt19937_64 rng(7);
      for (int k = 0; k < 4; ++k) {
        Vec theta = draw(rng, box);
        double va = 0, vb = 0;
        Vec ga = gradient(*ma, theta, true, &va), gb = gradient(*mb, theta, true, &vb);
        BOOST_TEST(std::isfinite(va));
        BOOST_TEST(close(va, vb, tol), "at " << vec_str(theta) << ": " << std::setprecision(17) << va << " vs " << vb);
        for (size_t i = 0; i < ga.size(); ++i)
          BOOST_TEST(close(ga[i], gb[i], tol * 100), "d/dtheta[" << i << "]: " << ga[i] << " vs " << gb[i]);
      }
      check_gradient(*ma, draw(rng, box), true, 1e-6, label);
    } catch (const std::exception& e) {
      BOOST_ERROR(label << ": exception: " << e.what());
    }
  }
}

// The checker's or lowering's error for a program (with data), or "<no error>".
std::string compile_error(const std::string& model, const std::string& data = "{}") {
  return error_of([&] { make_model(model, data); });
}

}  // namespace

// ============================================================================================
// Values and gradients
// ============================================================================================

BOOST_AUTO_TEST_SUITE(values_and_gradients)

BOOST_AUTO_TEST_CASE(scalar_arguments) {
  check_model("two reals",
              "functions {\n"
              "  real f(real x, real y) { return x * exp(-y) + square(x); }\n"
              "}\n"
              "parameters { real a; real b; }\n"
              "model { target += f(a, b); target += f(b, 2); }",
              "{}", {{-2, 2}, {-2, 2}},
              [](const Vec& t) {
                auto f = [](double x, double y) { return x * std::exp(-y) + x * x; };
                return f(t[0], t[1]) + f(t[1], 2);
              });
}

BOOST_AUTO_TEST_CASE(identity_and_equal_branches) {
  // The density is the parameter itself (its gradient once came out as zero), and
  // both branches of a run-time `if` assign the same value (once kept the old one).
  check_model("identity",
              "functions { real id(real x) { return x; } }\n"
              "parameters { real x; }\n"
              "model { target += id(x); }",
              "{}", {{-2, 2}}, [](const Vec& t) { return t[0]; });
  check_model("equal branches",
              "functions {\n"
              "  real f(real x) {\n"
              "    real s = 0;\n"
              "    if (x > 0) s = 2; else s = 2;\n"
              "    return s * x;\n"
              "  }\n"
              "}\n"
              "parameters { real x; }\n"
              "model { target += f(x); }",
              "{}", {{-2, 2}}, [](const Vec& t) { return 2 * t[0]; });
}

BOOST_AUTO_TEST_CASE(vector_matrix_and_array_arguments) {
  // A x + b, its squared norm, a row_vector and an array argument.
  const std::string data = R"({"A": [[1, 2], [0.5, -1], [3, 0.25]], "b": [0.1, -0.2, 0.3], "w": [2, 3]})";
  check_model("vector, matrix, row_vector, array[] real",
              "functions {\n"
              "  vector affine(matrix A, vector x, vector b) { return A * x + b; }\n"
              "  real sq_norm(vector v) { return dot_product(v, v); }\n"
              "  real weighted(row_vector r, array[] real w) {\n"
              "    real s = 0;\n"
              "    for (i in 1:size(w)) s += w[i] * r[i];\n"
              "    return s;\n"
              "  }\n"
              "}\n"
              "data { matrix[3, 2] A; vector[3] b; array[2] real w; }\n"
              "parameters { vector[2] theta; }\n"
              "model {\n"
              "  target += -0.5 * sq_norm(affine(A, theta, b));\n"
              "  target += weighted(theta', w);\n"
              "}",
              data, {{-2, 2}, {-2, 2}},
              [](const Vec& t) {
                const double A[3][2] = {{1, 2}, {0.5, -1}, {3, 0.25}}, b[3] = {0.1, -0.2, 0.3};
                double ss = 0;
                for (int i = 0; i < 3; ++i) {
                  double r = A[i][0] * t[0] + A[i][1] * t[1] + b[i];
                  ss += r * r;
                }
                return -0.5 * ss + 2 * t[0] + 3 * t[1];
              });
}

BOOST_AUTO_TEST_CASE(matrix_result) {
  check_model("a function returning a matrix",
              "functions {\n"
              "  matrix scaled_outer(vector x, real s) { return s * (x * x'); }\n"
              "}\n"
              "parameters { vector[2] x; real s; }\n"
              "model { matrix[2, 2] m = scaled_outer(x, s); target += m[1, 2] + m[2, 2]; }",
              "{}", {{-2, 2}, {-2, 2}, {-2, 2}},
              [](const Vec& t) { return t[2] * (t[0] * t[1] + t[1] * t[1]); });
}

BOOST_AUTO_TEST_CASE(returns_under_conditions_known_from_data) {
  check_model("the branch is chosen while lowering",
              "functions {\n"
              "  real pick(int k, real x) {\n"
              "    if (k == 1) return x;\n"
              "    else if (k == 2) return 2 * x;\n"
              "    return square(x);\n"
              "  }\n"
              "}\n"
              "data { int N; array[N] int k; }\n"
              "parameters { real x; }\n"
              "model { for (n in 1:N) target += pick(k[n], x); }",
              R"({"N": 4, "k": [1, 2, 3, 2]})", {{-2, 2}},
              [](const Vec& t) { return t[0] + 2 * t[0] + t[0] * t[0] + 2 * t[0]; });
}

BOOST_AUTO_TEST_CASE(returns_under_conditions_known_at_run_time) {
  // Piecewise in a parameter: both returns are lowered and merged with select.
  const std::string model =
      "functions {\n"
      "  real piece(real x) {\n"
      "    if (x > 1) return log(x) + 1;\n"
      "    if (x < -1) {\n"
      "      real y = -square(x);\n"
      "      return y;\n"
      "    }\n"
      "    return x;\n"
      "  }\n"
      "}\n"
      "parameters { real x; }\n"
      "model { target += piece(x); }";
  auto piece = [](double x) { return x > 1 ? std::log(x) + 1 : x < -1 ? -x * x : x; };
  auto m = make_model(model);
  for (double x : {-3.0, -1.5, -0.5, 0.25, 0.9, 1.2, 4.0}) {
    BOOST_TEST(close(lp(*m, {x}), piece(x), 1e-14), "at " << x);
    check_gradient(*m, {x}, true, 1e-6, "piece");
  }
}

BOOST_AUTO_TEST_CASE(if_else_returns_and_local_assignment) {
  // Both branches return: nothing after the if runs; a local set under a run-time condition.
  auto m = make_model(
      "functions {\n"
      "  real f(real x) {\n"
      "    real scale = 1;\n"
      "    if (x < 0) scale = 3;\n"
      "    if (x > 2) { return scale * x; } else { return scale * square(x); }\n"
      "  }\n"
      "}\n"
      "parameters { real x; }\n"
      "model { target += f(x); }");
  auto f = [](double x) { double s = x < 0 ? 3 : 1; return x > 2 ? s * x : s * x * x; };
  for (double x : {-2.0, -0.5, 0.5, 1.5, 2.5, 3.0}) {
    BOOST_TEST(close(lp(*m, {x}), f(x), 1e-14), "at " << x);
    check_gradient(*m, {x}, true, 1e-6, "f");
  }
}

BOOST_AUTO_TEST_CASE(return_inside_a_loop_under_a_run_time_condition) {
  // The first element above t (or t): a return inside an unrolled loop.
  auto m = make_model(
      "functions {\n"
      "  real first_above(vector v, real t) {\n"
      "    for (i in 1:num_elements(v)) {\n"
      "      if (v[i] > t) return 10 * i + v[i];\n"
      "    }\n"
      "    return t;\n"
      "  }\n"
      "}\n"
      "parameters { vector[3] v; }\n"
      "model { target += first_above(v, 0.5); }");
  auto f = [](const Vec& v) {
    for (size_t i = 0; i < v.size(); ++i)
      if (v[i] > 0.5) return 10.0 * static_cast<double>(i + 1) + v[i];
    return 0.5;
  };
  for (const Vec& v : {Vec{1, 2, 3}, Vec{0, 2, 3}, Vec{0, 0, 0.75}, Vec{0, 0.1, 0.2}, Vec{0.7, -1, 0.9}}) {
    BOOST_TEST(close(lp(*m, v), f(v), 1e-14), "at " << vec_str(v));
    check_gradient(*m, v, true, 1e-6, "first_above");
  }
}

BOOST_AUTO_TEST_CASE(effects_after_a_conditional_return_run_only_where_it_did_not_return) {
  // The reject after the return fires only when x <= 0; the target increment
  // inside the _lp function counts only where the function did not return early.
  auto m = make_model(
      "functions {\n"
      "  real checked_log(real x) {\n"
      "    if (x > 0) return log(x);\n"
      "    reject(\"checked_log: x must be positive, got \", x);\n"
      "  }\n"
      "  real bump_lp(real x) {\n"
      "    if (x > 1) return 0;\n"
      "    target += 5;\n"
      "    return 1;\n"
      "  }\n"
      "}\n"
      "parameters { real x; }\n"
      "model { target += checked_log(x); target += bump_lp(x); }");
  BOOST_TEST(close(lp(*m, {2.0}), std::log(2.0), 1e-14));
  BOOST_TEST(close(lp(*m, {0.5}), std::log(0.5) + 5 + 1, 1e-14));
  EvalContext ctx;
  Vec bad{-1};
  BOOST_TEST(!std::isfinite(m->log_density(bad.data(), nullptr, true, &ctx)));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "checked_log: x must be positive, got -1"), ctx.failure_text());
  BOOST_TEST(contains(ctx.failure_text(), "test.lat:4:"), ctx.failure_text());
}

BOOST_AUTO_TEST_CASE(loops_in_the_body) {
  // A loop of independent iterations (symbolic) and one with a carried dependence (unrolled).
  check_model("sum of squares and cumulative sum",
              "functions {\n"
              "  real sum_sq(vector x) {\n"
              "    real s = 0;\n"
              "    for (i in 1:num_elements(x)) s += square(x[i]);\n"
              "    return s;\n"
              "  }\n"
              "  vector cumsum(vector x) {\n"
              "    vector[num_elements(x)] c;\n"
              "    c[1] = x[1];\n"
              "    for (i in 2:num_elements(x)) c[i] = c[i - 1] + x[i];\n"
              "    return c;\n"
              "  }\n"
              "}\n"
              "parameters { vector[3] x; }\n"
              "model { target += -0.5 * sum_sq(x); target += sum(cumsum(x) .* [1, 2, 3]'); }",
              "{}", {{-2, 2}, {-2, 2}, {-2, 2}},
              [](const Vec& t) {
                double ss = t[0] * t[0] + t[1] * t[1] + t[2] * t[2];
                double c1 = t[0], c2 = c1 + t[1], c3 = c2 + t[2];
                return -0.5 * ss + c1 + 2 * c2 + 3 * c3;
              });
}

BOOST_AUTO_TEST_CASE(calls_inside_a_symbolic_loop) {
  // The loop over data stays a loop of the IR: the function is inlined once into its body,
  // with a condition on an int data element that is known only per iteration.
  check_same("f(y[n]) in a loop",
             "functions {\n"
             "  real term(real y, int g, real mu, real sigma) {\n"
             "    if (g == 1) return normal_lpdf(y | mu, sigma);\n"
             "    return normal_lpdf(y | -mu, 2 * sigma);\n"
             "  }\n"
             "}\n"
             "data { int N; vector[N] y; array[N] int g; }\n"
             "parameters { real mu; real<lower=0> sigma; }\n"
             "model { for (n in 1:N) target += term(y[n], g[n], mu, sigma); }",
             "data { int N; vector[N] y; array[N] int g; }\n"
             "parameters { real mu; real<lower=0> sigma; }\n"
             "model {\n"
             "  for (n in 1:N) {\n"
             "    if (g[n] == 1) target += normal_lpdf(y[n] | mu, sigma);\n"
             "    else target += normal_lpdf(y[n] | -mu, 2 * sigma);\n"
             "  }\n"
             "}",
             R"({"N": 5, "y": [0.3, -1.2, 2.2, 0.7, -0.4], "g": [1, 2, 2, 1, 1]})", {{-1, 1}, {-1, 1}});
}

BOOST_AUTO_TEST_CASE(functions_in_transformed_data_and_generated_quantities) {
  auto m = make_model(
      "functions {\n"
      "  vector standardize(vector x) { return (x - mean(x)) / sqrt(sum(square(x - mean(x))) / (num_elements(x) - 1)); }\n"
      "  real twice(real x) { return 2 * x; }\n"
      "}\n"
      "data { int N; vector[N] x; }\n"
      "transformed data { vector[N] z = standardize(x); }\n"
      "parameters { real b; }\n"
      "model { target += -0.5 * square(b - z[3]); }\n"
      "generated quantities { real b2 = twice(b); }",
      R"({"N": 3, "x": [1, 2, 4]})");
  // z = (x - 7/3) / sd, sd = sqrt(((4/3)^2 + (1/3)^2 + (5/3)^2) / 2)
  const double sd = std::sqrt((16.0 / 9 + 1.0 / 9 + 25.0 / 9) / 2), z3 = (4 - 7.0 / 3) / sd;
  BOOST_TEST(close(lp(*m, {0.5}), -0.5 * (0.5 - z3) * (0.5 - z3), 1e-14));
  BOOST_TEST(output(*m, {0.75}, "b2") == 1.5);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Recursion
// ============================================================================================

BOOST_AUTO_TEST_SUITE(recursion)

BOOST_AUTO_TEST_CASE(factorial_driven_by_data) {
  check_model("fact(N) * mu",
              "functions {\n"
              "  real fact(int n) {\n"
              "    if (n <= 1) return 1;\n"
              "    return n * fact(n - 1);\n"
              "  }\n"
              "}\n"
              "data { int N; }\n"
              "parameters { real mu; }\n"
              "model { target += fact(N) * mu - square(mu); }",
              R"({"N": 10})", {{-2, 2}}, [](const Vec& t) { return 3628800 * t[0] - t[0] * t[0]; });
}

BOOST_AUTO_TEST_CASE(recursive_sum_over_a_parameter_array) {
  check_model("rsum(x, n) = x[n] + rsum(x, n - 1)",
              "functions {\n"
              "  real rsum(array[] real x, int n) {\n"
              "    if (n == 0) return 0;\n"
              "    return x[n] * n + rsum(x, n - 1);\n"
              "  }\n"
              "}\n"
              "data { int N; }\n"
              "parameters { array[N] real x; }\n"
              "model { target += rsum(x, N) - 0.5 * dot_product(to_vector(x), to_vector(x)); }",
              R"({"N": 4})", {{-2, 2}, {-2, 2}, {-2, 2}, {-2, 2}}, [](const Vec& t) {
                double s = 0;
                for (size_t i = 0; i < t.size(); ++i) s += t[i] * static_cast<double>(i + 1) - 0.5 * t[i] * t[i];
                return s;
              });
}

BOOST_AUTO_TEST_CASE(fibonacci_lowers_each_value_once) {
  // Calls without effects are remembered by their arguments: fib(40) lowers 41 calls, not 3e8.
  auto start = std::chrono::steady_clock::now();
  auto m = make_model(
      "functions {\n"
      "  int fib(int n) {\n"
      "    if (n < 2) return n;\n"
      "    return fib(n - 1) + fib(n - 2);\n"
      "  }\n"
      "}\n"
      "data { int N; }\n"
      "parameters { real mu; }\n"
      "model { target += fib(N) * mu; }",
      R"({"N": 40})");
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(close(lp(*m, {0.5}), 102334155 * 0.5, 1e-15));
  BOOST_TEST(seconds < 20, "compiling took " << seconds << " s");
}

BOOST_AUTO_TEST_CASE(mutual_recursion_with_a_forward_declaration) {
  auto m = make_model(
      "functions {\n"
      "  int is_odd(int n);\n"
      "  int is_even(int n) { if (n == 0) return 1; return is_odd(n - 1); }\n"
      "  int is_odd(int n) { if (n == 0) return 0; return is_even(n - 1); }\n"
      "}\n"
      "data { int a; int b; }\n"
      "parameters { real mu; }\n"
      "model { target += (is_even(a) + 10 * is_odd(b)) * mu; }",
      R"({"a": 7, "b": 9})");
  BOOST_TEST(close(lp(*m, {1.0}), 10.0, 1e-15));
}

BOOST_AUTO_TEST_CASE(recursion_called_in_a_loop_over_data) {
  // The loop is unrolled so that each call sees its k[i].
  check_model("sum of fact(k[i]) * mu",
              "functions {\n"
              "  real fact(int n) { if (n <= 1) return 1; return n * fact(n - 1); }\n"
              "}\n"
              "data { int N; array[N] int k; }\n"
              "parameters { real mu; }\n"
              "model { for (i in 1:N) target += fact(k[i]) * mu; }",
              R"({"N": 3, "k": [3, 5, 1]})", {{-2, 2}}, [](const Vec& t) { return (6 + 120 + 1) * t[0]; });
}

BOOST_AUTO_TEST_CASE(recursion_on_real_data_elements) {
  // y[i] is known when the data is read, as an int would be.
  auto m = make_model(
      "functions {\n"
      "  real steps(real x) { if (x < 1) return 0; return 1 + steps(x - 1); }\n"
      "}\n"
      "data { int N; vector[N] y; }\n"
      "transformed data { vector[N] s; for (i in 1:N) s[i] = steps(y[i]); }\n"
      "parameters { real mu; }\n"
      "model { target += sum(s) * mu + steps(y[3]); }",
      R"({"N": 3, "y": [2.5, 0.5, 4.2]})");
  BOOST_TEST(close(lp(*m, {0.5}), 6 * 0.5 + 4, 1e-15));
}

BOOST_AUTO_TEST_CASE(recursion_on_a_parameter_is_an_error_at_the_call) {
  std::string e = compile_error(
      "functions {\n"
      "  real down(real x) {\n"
      "    if (x < 0) return 0;\n"
      "    return 1 + down(x - 1);\n"
      "  }\n"
      "}\n"
      "parameters { real x; }\n"
      "model { target += down(x); }");
  BOOST_TEST(contains(e, "test.lat:4:16: error: the call of 'down' is nested too deeply"), e);
  BOOST_TEST(contains(e, "a recursion must end on values known when the data is read"), e);
  // Data that never reaches the base case: the same error.
  e = compile_error(
      "functions { real fact(int n) { if (n == 1) return 1; return n * fact(n - 1); } }\n"
      "data { int N; } parameters { real x; } model { target += fact(N) * x; }",
      R"({"N": 0})");
  BOOST_TEST(contains(e, "the call of 'fact' is nested too deeply"), e);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Overloading
// ============================================================================================

BOOST_AUTO_TEST_SUITE(overloading)

BOOST_AUTO_TEST_CASE(int_versus_real) {
  auto m = make_model(
      "functions {\n"
      "  real g(int x) { return 1; }\n"
      "  real g(real x) { return 2; }\n"
      "  real h(real x, real y) { return x - y; }\n"
      "}\n"
      "parameters { real mu; }\n"
      "model { target += (g(3) + 10 * g(3.0) + 100 * g(mu) + 1000 * h(5, 2)) * mu; }");
  BOOST_TEST(close(lp(*m, {1.0}), 1 + 20 + 200 + 3000, 1e-15));
}

BOOST_AUTO_TEST_CASE(fewest_promotions_wins) {
  auto m = make_model(
      "functions {\n"
      "  real k(real x, real y) { return 1; }\n"
      "  real k(int x, real y) { return 2; }\n"
      "}\n"
      "parameters { real mu; }\n"
      "model { target += (k(1, 1) + 10 * k(1.5, 1)) * mu; }");
  BOOST_TEST(close(lp(*m, {1.0}), 2 + 10, 1e-15));
  // Two signatures each needing one promotion: ambiguous.
  std::string e = compile_error(
      "functions { real a(real x, int y) { return 1; } real a(int x, real y) { return 2; } }\n"
      "parameters { real mu; } model { target += a(1, 1) * mu; }");
  BOOST_TEST(contains(e, "the call a(int, int) is ambiguous"), e);
}

BOOST_AUTO_TEST_CASE(vector_versus_array) {
  auto m = make_model(
      "functions {\n"
      "  real total(vector v) { return 10 * sum(v); }\n"
      "  real total(array[] real a) { return sum(a); }\n"
      "  real total(array[] int a) { return 100 * sum(a); }\n"
      "}\n"
      "data { array[2] int n; }\n"
      "parameters { vector[2] v; array[2] real a; }\n"
      "model { target += total(v) + total(a) + total(n); }",
      R"({"n": [1, 2]})");
  BOOST_TEST(close(lp(*m, {1, 2, 3, 4}), 30 + 7 + 300, 1e-15));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// User-defined distributions
// ============================================================================================

BOOST_AUTO_TEST_SUITE(distributions)

// A normal density written by hand, for real and vector variates.
const char* kMyNormal =
    "functions {\n"
    "  real my_normal_lpdf(real y, real mu, real sigma) {\n"
    "    return -0.5 * square((y - mu) / sigma) - log(sigma) - 0.5 * log(2 * pi());\n"
    "  }\n"
    "  real my_normal_lpdf(vector y, real mu, real sigma) {\n"
    "    vector[num_elements(y)] z = (y - mu) / sigma;\n"
    "    return -0.5 * dot_product(z, z) - num_elements(y) * (log(sigma) + 0.5 * log(2 * pi()));\n"
    "  }\n"
    "}\n";

BOOST_AUTO_TEST_CASE(target_plus_lpdf_equals_the_library) {
  const std::string data = R"({"y": [0.3, -1.1, 2.0]})";
  check_same("target += my_normal_lpdf(vector)",
             std::string(kMyNormal) +
                 "data { vector[3] y; } parameters { real mu; real<lower=0> s; }\n"
                 "model { target += my_normal_lpdf(y | mu, s); target += my_normal_lpdf(mu | 0, 2); }",
             "data { vector[3] y; } parameters { real mu; real<lower=0> s; }\n"
             "model { target += normal_lpdf(y | mu, s); target += normal_lpdf(mu | 0, 2); }",
             data, {{-2, 2}, {-1, 1}});
  check_model("against the closed form",
              std::string(kMyNormal) + "parameters { real y; } model { target += my_normal_lpdf(y | 1, 2); }", "{}",
              {{-3, 3}}, [](const Vec& t) { return -0.5 * std::pow((t[0] - 1) / 2, 2) - std::log(2.0) - kLogSqrt2Pi; });
}

BOOST_AUTO_TEST_CASE(tilde_keeps_what_the_function_computes) {
  // Stan's semantics: `y ~ foo(...)` is target += foo_lupdf(y | ...); a hand-written
  // body has no terms to drop, so it equals target += normal_lpdf (with the constants).
  check_same("y ~ my_normal == target += normal_lpdf",
             std::string(kMyNormal) +
                 "data { vector[3] y; } parameters { real mu; real<lower=0> s; }\n"
                 "model { y ~ my_normal(mu, s); mu ~ my_normal(0, 2); }",
             "data { vector[3] y; } parameters { real mu; real<lower=0> s; }\n"
             "model { target += normal_lpdf(y | mu, s); target += normal_lpdf(mu | 0, 2); }",
             R"({"y": [0.3, -1.1, 2.0]})", {{-2, 2}, {-1, 1}});
}

BOOST_AUTO_TEST_CASE(unnormalized_calls_inside_propagate) {
  // Inside the function, normal_lupdf drops constants only when the function
  // itself was called through ~ or as _lupdf; called as _lpdf it keeps them.
  const std::string fn =
      "functions {\n"
      "  real wrapped_lpdf(vector y, real mu, real sigma) { return normal_lupdf(y | mu, sigma); }\n"
      "}\n";
  const std::string head = "data { vector[3] y; real s; } parameters { real mu; }\n";
  const std::string data = R"({"y": [0.3, -1.1, 2.0], "s": 1.5})";
  check_same("~ wrapped == ~ normal", fn + head + "model { y ~ wrapped(mu, s); }", head + "model { y ~ normal(mu, s); }",
             data, {{-2, 2}});
  check_same("wrapped_lupdf == ~ normal", fn + head + "model { target += wrapped_lupdf(y | mu, s); }",
             head + "model { y ~ normal(mu, s); }", data, {{-2, 2}});
  check_same("wrapped_lpdf == normal_lpdf", fn + head + "model { target += wrapped_lpdf(y | mu, s); }",
             head + "model { target += normal_lpdf(y | mu, s); }", data, {{-2, 2}});
  // The two differ by the constants, so the test can tell them apart.
  auto a = make_model(fn + head + "model { y ~ wrapped(mu, s); }", data);
  auto b = make_model(fn + head + "model { target += wrapped_lpdf(y | mu, s); }", data);
  BOOST_TEST(std::fabs(lp(*a, {0.5}) - lp(*b, {0.5})) > 1);
}

BOOST_AUTO_TEST_CASE(user_lpmf) {
  check_same("my_poisson ~ and target +=",
             "functions {\n"
             "  real my_poisson_lpmf(array[] int k, real lambda) {\n"
             "    real lp = 0;\n"
             "    for (i in 1:size(k)) lp += k[i] * log(lambda) - lambda - lgamma(k[i] + 1);\n"
             "    return lp;\n"
             "  }\n"
             "}\n"
             "data { array[4] int k; } parameters { real<lower=0> lambda; }\n"
             "model { k ~ my_poisson(lambda); target += my_poisson_lpmf(k | 2 * lambda); }",
             "data { array[4] int k; } parameters { real<lower=0> lambda; }\n"
             "model { target += poisson_lpmf(k | lambda); target += poisson_lpmf(k | 2 * lambda); }",
             R"({"k": [0, 3, 1, 7]})", {{-1, 1.5}});
}

BOOST_AUTO_TEST_CASE(tilde_chooses_between_lpdf_and_lpmf_by_the_variate) {
  // An int variate matches both_lpmf exactly and both_lpdf by promotion: the exact one wins.
  auto m = make_model(
      "functions {\n"
      "  real both_lpdf(real y, real mu) { return -square(y - mu); }\n"
      "  real both_lpmf(int y, real mu) { return -10 * square(y - mu); }\n"
      "}\n"
      "data { int k; }\n"
      "parameters { real mu; }\n"
      "model { mu ~ both(0.5); k ~ both(mu); }",
      R"({"k": 1})");
  const double mu = 0.3;
  BOOST_TEST(close(lp(*m, {mu}), -(mu - 0.5) * (mu - 0.5) - 10 * (1 - mu) * (1 - mu), 1e-14));
}

BOOST_AUTO_TEST_CASE(lcdf_and_lccdf_are_callable) {
  check_model("exponential cdfs",
              "functions {\n"
              "  real my_exp_lcdf(real y, real lambda) { return log1m(exp(-lambda * y)); }\n"
              "  real my_exp_lccdf(real y, real lambda) { return -lambda * y; }\n"
              "}\n"
              "data { real c; }\n"
              "parameters { real<lower=0> lambda; }\n"
              "model { target += my_exp_lcdf(c | lambda) + my_exp_lccdf(2 * c | lambda); }",
              R"({"c": 0.8})", {{-1, 1}}, [](const Vec& t) {
                double lambda = std::exp(t[0]);
                return std::log1p(-std::exp(-lambda * 0.8)) - lambda * 1.6 + t[0];  // with the log-Jacobian
              });
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// _lp functions
// ============================================================================================

BOOST_AUTO_TEST_SUITE(lp_functions)

BOOST_AUTO_TEST_CASE(lp_function_increments_target) {
  check_same("a hierarchical prior in an _lp function",
             "functions {\n"
             "  void hier_lp(vector theta, real mu, real tau) {\n"
             "    theta ~ normal(mu, tau);\n"
             "    target += -log1p(square(tau));\n"
             "  }\n"
             "}\n"
             "parameters { vector[3] theta; real mu; real<lower=0> tau; }\n"
             "model { hier_lp(theta, mu, tau); mu ~ normal(0, 5); }",
             "parameters { vector[3] theta; real mu; real<lower=0> tau; }\n"
             "model { theta ~ normal(mu, tau); target += -log1p(square(tau)); mu ~ normal(0, 5); }",
             "{}", {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}});
}

BOOST_AUTO_TEST_CASE(lp_functions_calling_each_other) {
  // An _lp function calls another, reads target(), and a function defined after its caller.
  check_same("nested _lp calls",
             "functions {\n"
             "  void inner_lp(real x) { x ~ normal(0, 1); }\n"
             "  void outer_lp(real x, array[] vector xs) {\n"
             "    inner_lp(x);\n"
             "    target += total(xs) * x;\n"
             "  }\n"
             "  real total(array[] vector xs) {\n"
             "    real s = 0;\n"
             "    for (x in xs) s += sum(x);\n"
             "    return s;\n"
             "  }\n"
             "}\n"
             "data { array[2] vector[2] xs; }\n"
             "parameters { real mu; }\n"
             "model { outer_lp(mu, xs); }",
             "data { array[2] vector[2] xs; }\n"
             "parameters { real mu; }\n"
             "model { mu ~ normal(0, 1); target += 10 * mu; }",
             R"({"xs": [[1, 2], [3, 4]]})", {{-2, 2}});
}

BOOST_AUTO_TEST_CASE(lp_function_in_transformed_parameters) {
  check_same("a value and a target increment",
             "functions {\n"
             "  real shifted_lp(real x, real shift) {\n"
             "    x ~ normal(0, 1);\n"
             "    return x + shift;\n"
             "  }\n"
             "}\n"
             "parameters { real x; }\n"
             "transformed parameters { real y = shifted_lp(x, 2); }\n"
             "model { y ~ normal(1, 3); }",
             "parameters { real x; }\n"
             "transformed parameters { real y = x + 2; }\n"
             "model { x ~ normal(0, 1); y ~ normal(1, 3); }",
             "{}", {{-2, 2}});
}

BOOST_AUTO_TEST_CASE(lp_function_under_a_run_time_condition) {
  // The call's target increment counts only on the path where it is called.
  check_same("if (x > 0) f_lp(x)",
             "functions { void add_lp(real x) { target += 3 * x; } }\n"
             "parameters { real x; }\n"
             "model { if (x > 0) add_lp(x); x ~ normal(0, 1); }",
             "parameters { real x; }\n"
             "model { if (x > 0) target += 3 * x; x ~ normal(0, 1); }",
             "{}", {{-2, 2}});
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// void functions: print and reject
// ============================================================================================

BOOST_AUTO_TEST_SUITE(void_functions)

BOOST_AUTO_TEST_CASE(print_from_a_function) {
  auto m = make_model(
      "functions { void show(real x) { print(\"x = \", x, \", twice \", 2 * x); } }\n"
      "parameters { real x; }\n"
      "model { show(x); x ~ normal(0, 1); }");
  std::ostringstream out;
  EvalContext ctx;
  ctx.print_stream = &out;
  Vec u{0.25};
  BOOST_TEST(close(m->log_density(u.data(), nullptr, true, &ctx), -0.03125, 1e-15));
  BOOST_TEST(contains(out.str(), "x = 0.25, twice 0.5"), out.str());
}

BOOST_AUTO_TEST_CASE(reject_from_a_function) {
  auto m = make_model(
      "functions {\n"
      "  void check_small(real x, real limit) {\n"
      "    if (x > limit) reject(\"x too large: \", x);\n"
      "    return;\n"
      "  }\n"
      "}\n"
      "parameters { real x; }\n"
      "model { check_small(x, 5); x ~ normal(0, 1); }");
  EvalContext ctx;
  Vec u{6};
  BOOST_TEST(!std::isfinite(m->log_density(u.data(), nullptr, true, &ctx)));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "x too large: 6"), ctx.failure_text());
  BOOST_TEST(contains(ctx.failure_text(), "test.lat:3:"), ctx.failure_text());
  BOOST_TEST(close(lp(*m, {1.0}), -0.5, 1e-15));
}

BOOST_AUTO_TEST_CASE(reject_on_data_fails_when_the_data_is_bound) {
  const std::string model =
      "functions { void positive(int n) { if (n <= 0) reject(\"n must be positive, got \", n); } }\n"
      "data { int n; }\n"
      "transformed data { positive(n); }\n"
      "parameters { real x; }\n"
      "model { x ~ normal(0, n); }";
  std::string e = compile_error(model, R"({"n": -2})");
  BOOST_TEST(contains(e, "n must be positive, got -2"), e);
  BOOST_TEST(compile_error(model, R"({"n": 2})") == "<no error>");
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Checker rules (the messages themselves are golden tests)
// ============================================================================================

BOOST_AUTO_TEST_SUITE(checker_rules)

BOOST_AUTO_TEST_CASE(data_argument_must_not_depend_on_parameters) {
  const std::string fn = "functions { real f(data real x, real y) { return x * y; } }\n";
  std::string e = compile_error(fn + "parameters { real mu; } model { target += f(mu, 1); }");
  BOOST_TEST(contains(e, "argument 'x' of 'f' is declared 'data'"), e);
  // Data, transformed data and ints are fine; so is a local of transformed data.
  BOOST_TEST(compile_error(fn + "data { real d; } transformed data { real t = f(d, 2); }\n"
                                "parameters { real mu; } model { target += f(d, mu) + f(t, mu) + f(3, mu); }",
                           R"({"d": 1})") == "<no error>");
}

BOOST_AUTO_TEST_CASE(suffixes_decide_where_functions_are_called) {
  const std::string lp = "functions { real one_lp(real x) { target += x; return 1; } }\n";
  BOOST_TEST(contains(compile_error(lp + "parameters { real x; } generated quantities { real y = one_lp(x); }"),
                      "function 'one_lp' changes target"));
  BOOST_TEST(compile_error(lp + "parameters { real x; } transformed parameters { real y = one_lp(x); }\n"
                                "model { x ~ normal(0, 1); }") == "<no error>");
  const std::string rng = "functions { real draw_rng(real x) { return x; } }\n";
  BOOST_TEST(contains(compile_error(rng + "parameters { real x; } model { target += draw_rng(x); }"),
                      "random number generator 'draw_rng' is only allowed"));
  BOOST_TEST(compile_error(rng + "parameters { real x; } model { x ~ normal(0, 1); }\n"
                                 "generated quantities { real y = draw_rng(x); }") == "<no error>");
  BOOST_TEST(contains(compile_error("functions { real f(real x) { target += x; return x; } }"),
                      "target += is only allowed in the model block and in functions whose names end in _lp"));
}

BOOST_AUTO_TEST_CASE(every_path_must_return) {
  BOOST_TEST(contains(compile_error("functions { real f(real x) { if (x > 0) return x; } }"),
                      "function 'f' must return a value of type real on every path"));
  BOOST_TEST(compile_error("functions { real f(real x) { if (x > 0) return x; else reject(\"no\"); } }") ==
             "<no error>");
  BOOST_TEST(compile_error("functions { real f(real x) { { return x; } } }") == "<no error>");
}

BOOST_AUTO_TEST_CASE(functions_see_only_their_arguments) {
  std::string e = compile_error(
      "functions { real f(real x) { return x + y; } }\n"
      "data { real y; }");
  BOOST_TEST(contains(e, "variable 'y' is not visible in function 'f'"), e);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// posteriordb-style programs: the same model with and without functions
// ============================================================================================

BOOST_AUTO_TEST_SUITE(posteriordb_style)

BOOST_AUTO_TEST_CASE(zero_inflated_poisson) {
  // The Stan User's Guide's zero-inflated Poisson, as a user-defined _lpmf.
  const std::string data = R"({"N": 8, "y": [0, 0, 3, 1, 0, 5, 2, 0]})";
  check_same("zip_lpmf",
             "functions {\n"
             "  real zip_lpmf(int y, real theta, real lambda) {\n"
             "    if (y == 0)\n"
             "      return log_sum_exp(log(theta), log1m(theta) + poisson_lpmf(0 | lambda));\n"
             "    return log1m(theta) + poisson_lpmf(y | lambda);\n"
             "  }\n"
             "}\n"
             "data { int<lower=0> N; array[N] int<lower=0> y; }\n"
             "parameters { real<lower=0, upper=1> theta; real<lower=0> lambda; }\n"
             "model {\n"
             "  lambda ~ gamma(2, 1);\n"
             "  for (n in 1:N) y[n] ~ zip(theta, lambda);\n"
             "}",
             "data { int<lower=0> N; array[N] int<lower=0> y; }\n"
             "parameters { real<lower=0, upper=1> theta; real<lower=0> lambda; }\n"
             "model {\n"
             "  lambda ~ gamma(2, 1);\n"
             "  for (n in 1:N) {\n"
             "    if (y[n] == 0)\n"
             "      target += log_sum_exp(log(theta), log1m(theta) + poisson_lpmf(0 | lambda));\n"
             "    else\n"
             "      target += log1m(theta) + poisson_lpmf(y[n] | lambda);\n"
             "  }\n"
             "}",
             data, {{-1.5, 1.5}, {-1, 1}});
}

BOOST_AUTO_TEST_CASE(garch_volatility_in_a_function) {
  // posteriordb's garch11, with the variance recursion moved into a function.
  const std::string data = R"({"T": 6, "y": [0.1, -0.3, 0.25, 0.6, -0.2, 0.05], "sigma1": 0.2})";
  const std::string params =
      "parameters { real mu; real<lower=0> alpha0; real<lower=0, upper=1> alpha1;\n"
      "  real<lower=0, upper=(1 - alpha1)> beta1; }\n";
  check_same("garch11",
             "functions {\n"
             "  vector garch_sigma(vector y, real mu, real alpha0, real alpha1, real beta1, real sigma1) {\n"
             "    int T = num_elements(y);\n"
             "    vector[T] sigma;\n"
             "    sigma[1] = sigma1;\n"
             "    for (t in 2:T)\n"
             "      sigma[t] = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma[t - 1]));\n"
             "    return sigma;\n"
             "  }\n"
             "}\n"
             "data { int<lower=0> T; vector[T] y; real<lower=0> sigma1; }\n" +
                 params + "model { y ~ normal(mu, garch_sigma(y, mu, alpha0, alpha1, beta1, sigma1)); }",
             "data { int<lower=0> T; vector[T] y; real<lower=0> sigma1; }\n" + params +
                 "model {\n"
                 "  array[T] real sigma;\n"
                 "  sigma[1] = sigma1;\n"
                 "  for (t in 2:T)\n"
                 "    sigma[t] = sqrt(alpha0 + alpha1 * square(y[t - 1] - mu) + beta1 * square(sigma[t - 1]));\n"
                 "  y ~ normal(mu, sigma);\n"
                 "}",
             data, {{-0.5, 0.5}, {-3, 0}, {-2, 0}, {-2, 1}});
}

BOOST_AUTO_TEST_CASE(hierarchical_regression_with_a_linear_predictor) {
  // A radon-style varying-intercept regression whose linear predictor and prior are functions.
  const std::string data =
      R"({"N": 7, "J": 3, "county": [1, 1, 2, 3, 3, 3, 2], "x": [0, 1, 0, 1, 1, 0, 1],)"
      R"( "y": [1.2, 0.4, 1.9, 0.1, 0.6, 1.4, 0.8]})";
  const std::string decls =
      "data { int<lower=1> N; int<lower=1> J; array[N] int<lower=1, upper=J> county; vector[N] x; vector[N] y; }\n"
      "parameters { vector[J] a; real b; real mu_a; real<lower=0> sigma_a; real<lower=0> sigma_y; }\n";
  check_same("radon varying intercept",
             "functions {\n"
             "  vector linear_predictor(vector a, real b, array[] int group, vector x) {\n"
             "    return a[group] + b * x;\n"
             "  }\n"
             "  void varying_intercepts_lp(vector a, real mu, real sigma) {\n"
             "    a ~ normal(mu, sigma);\n"
             "    mu ~ normal(0, 10);\n"
             "    sigma ~ cauchy(0, 5);\n"
             "  }\n"
             "}\n" +
                 decls +
                 "model {\n"
                 "  varying_intercepts_lp(a, mu_a, sigma_a);\n"
                 "  b ~ normal(0, 10);\n"
                 "  sigma_y ~ cauchy(0, 5);\n"
                 "  y ~ normal(linear_predictor(a, b, county, x), sigma_y);\n"
                 "}",
             decls +
                 "model {\n"
                 "  a ~ normal(mu_a, sigma_a);\n"
                 "  mu_a ~ normal(0, 10);\n"
                 "  sigma_a ~ cauchy(0, 5);\n"
                 "  b ~ normal(0, 10);\n"
                 "  sigma_y ~ cauchy(0, 5);\n"
                 "  y ~ normal(a[county] + b * x, sigma_y);\n"
                 "}",
             data, {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}});
}

BOOST_AUTO_TEST_CASE(basis_function_gp_spectral_density) {
  // posteriordb's accel_gp (Hilbert-space GP approximation) computes the
  // spectral density of the squared exponential kernel in a function; the
  // basis functions are given as data here.
  const std::string data =
      R"({"N": 4, "M": 3, "L": 2.5, "PHI": [[0.1, 0.5, -0.2], [0.7, -0.1, 0.3], [-0.4, 0.2, 0.6], [0.3, 0.3, -0.5]],)"
      R"( "y": [0.2, 0.9, -0.3, 0.4]})";
  const std::string decls =
      "data { int N; int M; real L; matrix[N, M] PHI; vector[N] y; }\n"
      "parameters { real<lower=0> alpha; real<lower=0> rho; vector[M] beta; real<lower=0> sigma; }\n";
  check_same("diagSPD_EQ",
             "functions {\n"
             "  vector diagSPD_EQ(real alpha, real rho, real L, int M) {\n"
             "    vector[M] indices;\n"
             "    for (m in 1:M) indices[m] = m;\n"
             "    return alpha * sqrt(sqrt(2 * pi()) * rho) * exp(-0.25 * square(rho * pi() / 2 / L) * square(indices));\n"
             "  }\n"
             "}\n" +
                 decls +
                 "model {\n"
                 "  vector[M] diagSPD = diagSPD_EQ(alpha, rho, L, M);\n"
                 "  beta ~ normal(0, 1);\n"
                 "  alpha ~ normal(0, 1);\n"
                 "  rho ~ normal(0, 1);\n"
                 "  sigma ~ normal(0, 1);\n"
                 "  y ~ normal(PHI * (diagSPD .* beta), sigma);\n"
                 "}",
             decls +
                 "model {\n"
                 "  vector[M] diagSPD;\n"
                 "  for (m in 1:M)\n"
                 "    diagSPD[m] = alpha * sqrt(sqrt(2 * pi()) * rho) * exp(-0.25 * square(rho * pi() / 2 / L) * m * m);\n"
                 "  beta ~ normal(0, 1);\n"
                 "  alpha ~ normal(0, 1);\n"
                 "  rho ~ normal(0, 1);\n"
                 "  sigma ~ normal(0, 1);\n"
                 "  y ~ normal(PHI * (diagSPD .* beta), sigma);\n"
                 "}",
             data, {{-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}, {-1, 1}}, 1e-11);
}

BOOST_AUTO_TEST_SUITE_END()
