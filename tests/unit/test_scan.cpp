// Loops with carried state lowered as an IR Scan (issue 10): each model's log
// density and gradient equal the same loop unrolled (forced by a `while` loop
// that never runs, which makes a loop unrollable only) and finite differences;
// the lowered program holds a Scan; compile size does not grow with the trip
// count. break and continue are masked in symbolic loops and Scans.
#define BOOST_TEST_MODULE scan
#include "tests/support/model_fixture.hpp"

#include "compiler/driver/pipeline.hpp"
#include "compiler/ir/ir.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "data/json_data.hpp"

#include <random>
#include <string>

using namespace latent;
using namespace latent::testing;

namespace {

std::shared_ptr<const ast::Program> parse_text(const std::string& text) {
  return driver::parse(std::make_shared<SourceFile>(SourceFile{"test.lat", text}));
}

// Scan nodes and all nodes reachable from the lowered program's terms.
std::pair<int, size_t> scans_and_nodes(const std::string& model, const std::string& data) {
  LoweredProgram lp = driver::lower(*parse_text(model), DataSet::from_json_string(data, "data.json"));
  std::vector<ir::NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  int scans = 0;
  std::vector<ir::NodeP> order = ir::topological_order(roots);
  for (ir::NodeP n : order) scans += n->op == ir::Op::Scan;
  return {scans, order.size()};
}

// `model` with `for (VAR in ...) {` made unrollable only: a while loop that never runs.
std::string unrolled(std::string model, const std::string& loop_head) {
  size_t at = model.find(loop_head);
  BOOST_REQUIRE(at != std::string::npos);
  model.insert(at + loop_head.size(), " while (0) { } ");
  return model;
}

// Value and gradient of `model` against `reference` (written another way) and finite differences.
void check_against(const std::string& model, const std::string& reference, const std::string& data, size_t dims) {
  BOOST_TEST_CONTEXT(model << "\nagainst\n" << reference) {
    auto scan = make_model(model, data);
    auto flat = make_model(reference, data);
    std::mt19937_64 rng(7);
    for (int rep = 0; rep < 3; ++rep) {
      std::vector<double> theta = random_theta(rng, dims, -1, 1);
      double v_scan = 0, v_flat = 0;
      std::vector<double> g_scan = gradient(*scan, theta, true, &v_scan);
      std::vector<double> g_flat = gradient(*flat, theta, true, &v_flat);
      BOOST_TEST(close(v_scan, v_flat, 1e-12), v_scan << " vs unrolled " << v_flat);
      for (size_t i = 0; i < dims; ++i) BOOST_TEST(close(g_scan[i], g_flat[i], 1e-10), i << ": " << g_scan[i] << " vs " << g_flat[i]);
      check_gradient(*scan, theta, true, 1e-6, "scan");
    }
  }
}

// The Scan form against the unrolled form.
void check_against_unrolled(const std::string& model, const std::string& loop_head, const std::string& data,
                            size_t dims, int expected_scans = 1) {
  BOOST_TEST_CONTEXT(model) {
    BOOST_TEST(scans_and_nodes(model, data).first == expected_scans);
    BOOST_TEST(scans_and_nodes(unrolled(model, loop_head), data).first == 0);
  }
  check_against(model, unrolled(model, loop_head), data, dims);
}

std::string series_json(int T) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> n(0, 1);
  std::string y;
  for (int t = 0; t < T; ++t) y += (t ? ", " : "") + std::to_string(n(rng));
  return "{\"T\": " + std::to_string(T) + ", \"y\": [" + y + "]}";
}

const char* kGarch = R"(
data { int T; array[T] real y; }
parameters { real mu; real<lower=0> alpha0; real<lower=0, upper=1> alpha1; real<lower=0, upper=(1 - alpha1)> beta1; }
model {
  array[T] real sigma;
  sigma[1] = 1;
  for (t in 2:T) {
    sigma[t] = sqrt(alpha0 + alpha1 * pow(y[t - 1] - mu, 2) + beta1 * pow(sigma[t - 1], 2));
  }
  y ~ normal(mu, sigma);
}
)";

}  // namespace

BOOST_AUTO_TEST_CASE(an_ar_recursion_with_a_nonlinear_state) {
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { real mu; real<lower=-1, upper=1> phi; real<lower=0> sigma; }
model {
  vector[T] m;
  m[1] = mu;
  for (t in 2:T) { m[t] = mu + phi * (y[t - 1] - mu) + 0.3 * tanh(m[t - 1]); }
  y ~ normal(m, sigma);
}
)",
                         "for (t in 2:T) {", series_json(30), 3);
}

BOOST_AUTO_TEST_CASE(garch_1_1) { check_against_unrolled(kGarch, "for (t in 2:T) {", series_json(40), 4); }

// A running hidden state (a NADE): the state is a vector, the body a matrix-vector product.
BOOST_AUTO_TEST_CASE(a_running_hidden_state) {
  check_against_unrolled(R"(
data { int D; array[D] int x; }
parameters { matrix[3, D] W; vector[D] V1; vector[D] V2; vector[D] V3; vector[3] c; }
model {
  vector[3] a = c;
  to_vector(W) ~ normal(0, 1);
  for (d in 1:D) {
    vector[3] h = inv_logit(a);
    x[d] ~ bernoulli_logit(V1[d] * h[1] + V2[d] * h[2] + V3[d] * h[3]);
    a = a + col(W, d);
  }
}
)",
                         "for (d in 1:D) {", R"({"D": 10, "x": [1, 0, 0, 1, 1, 1, 0, 1, 0, 0]})", 3 * 10 + 3 * 10 + 3);
}

// Several carried variables of different shapes are one packed state; a counter and
// an accumulator read in the body are carried too.
BOOST_AUTO_TEST_CASE(several_carried_variables) {
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { real a; real<lower=0> b; vector[2] w; }
model {
  real level = 0;
  vector[2] trend = w;
  real total = 0;
  for (t in 1:T) {
    level = a * level + trend[1] * 0.1;
    trend = [trend[2], 0.5 * trend[1] + 0.1 * level]';
    total += level;
    y[t] ~ normal(level + 0.01 * total, b);
  }
  target += -0.5 * total^2 / T^2;
}
)",
                         "for (t in 1:T) {", series_json(20), 4);
}

// The change-point model of Stan's User's Guide: an outer symbolic loop defining
// lp[s] element-wise holds an inner Scan over the element.
BOOST_AUTO_TEST_CASE(a_scan_inside_a_symbolic_loop) {
  std::string model = R"(
data { int T; array[T] int D; }
parameters { real<lower=0> e; real<lower=0> l; }
transformed parameters {
  vector[T] lp = rep_vector(-log(T), T);
  for (s in 1:T)
    for (t in 1:T) {
      lp[s] = lp[s] + poisson_lpmf(D[t] | t < s ? e : l);
    }
}
model { e ~ exponential(0.3); l ~ exponential(0.3); target += log_sum_exp(lp); }
)";
  std::string data = R"({"T": 12, "D": [4, 5, 4, 1, 0, 4, 3, 1, 0, 1, 2, 0]})";
  check_against_unrolled(model, "for (t in 1:T) {", data, 2);
}

// A data-only recursion and an int state, kept together in a state of reals.
BOOST_AUTO_TEST_CASE(an_int_state_and_a_data_recursion) {
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { real mu; }
model {
  int k = 0;
  real smooth = y[1];
  for (t in 1:T) {
    k = k + (y[t] > 0);
    smooth = 0.8 * smooth + 0.2 * y[t];
    target += normal_lpdf(y[t] | mu + 0.1 * k + smooth, 1);
  }
}
)",
                         "for (t in 1:T) {", series_json(15), 1, 1);
}

// A recursion over two lags keeps a window of two elements; an array of vectors a
// window of two vectors; both agree with the unrolled loop.
BOOST_AUTO_TEST_CASE(windows_of_past_elements) {
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { real a; real b; real<lower=0> s; }
model {
  vector[T] m;
  m[1] = 0;
  m[2] = y[1];
  for (t in 3:T) { m[t] = a * tanh(m[t - 1]) + b * m[t - 2] + 0.1 * y[t - 1]; }
  y ~ normal(m, s);
}
)",
                         "for (t in 3:T) {", series_json(25), 3);
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { vector[2] w; real<lower=0> s; }
model {
  array[T] vector[2] h;
  h[1] = w;
  h[2] = -w;
  for (t in 3:T) { h[t] = [tanh(h[t - 1][2] + w[1] * h[t - 2][1]), 0.5 * h[t - 1][1]]'; y[t] ~ normal(h[t][1] + h[t][2], s); }
}
)",
                         "for (t in 3:T) {", series_json(20), 3);
}

// GARCH's state is one element of sigma (a window), not the whole array: the
// history holds T scalars.
BOOST_AUTO_TEST_CASE(a_recursion_carries_one_element) {
  LoweredProgram lp = driver::lower(*parse_text(kGarch), DataSet::from_json_string(series_json(200), "data.json"));
  std::vector<ir::NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  int scans = 0;
  for (ir::NodeP n : ir::topological_order(roots))
    if (n->op == ir::Op::Scan) {
      ++scans;
      BOOST_TEST((n->dims == std::vector<int64_t>{200}));
    }
  BOOST_TEST(scans == 1);
}

// A variable defined element-wise over part of its range (from 2) is not a
// symbolic loop: it becomes a Scan with a window, not an unrolled loop
// (posteriordb's iohmm_reg).
BOOST_AUTO_TEST_CASE(an_element_wise_definition_over_part_of_the_range) {
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { real mu; vector[T] theta; }
model {
  vector[T] z;
  z[1] = theta[1];
  for (t in 2:T) { z[t] = exp(0.3 * theta[t]) * mu; }
  y ~ normal(z, 1);
  theta ~ normal(0, 1);
}
)",
                         "for (t in 2:T) {", series_json(12), 13);
}

// Ints carried with reals (a Viterbi backpointer with the best score so far) share
// one state of reals.
BOOST_AUTO_TEST_CASE(ints_carried_with_reals) {
  check_against_unrolled(R"(
data { int T; vector[T] y; }
parameters { real mu; }
model {
  real best = negative_infinity();
  int at = 0;
  array[T] int pointer;
  for (t in 1:T) {
    real score = normal_lpdf(y[t] | mu, 1);
    if (score > best) { best = score; at = t; }
    pointer[t] = at;
  }
  target += best + 0.01 * pointer[T] * mu + 0.001 * at;
}
)",
                         "for (t in 1:T) {", series_json(15), 1);
}

// The lowered graph of GARCH has the same size at T = 100 and T = 1000: the loop is not unrolled.
BOOST_AUTO_TEST_CASE(graph_size_does_not_grow_with_the_trip_count) {
  auto [scans100, nodes100] = scans_and_nodes(kGarch, series_json(100));
  auto [scans1000, nodes1000] = scans_and_nodes(kGarch, series_json(1000));
  BOOST_TEST(scans100 == 1);
  BOOST_TEST(scans1000 == 1);
  BOOST_TEST(nodes100 == nodes1000);
}

// Transformed data with nested loops carrying two masks (the masked layers of
// examples/sequence_ar): Scans inside Scans, with an unrolled loop between them,
// give the values of the same loops run in Python (444 and 516 ones).
BOOST_AUTO_TEST_CASE(transformed_data_loops_with_carried_masks) {
  auto m = make_model(R"(
data { int H; int L; int K; }
transformed data {
  matrix[K * L, H] a = rep_matrix(0, K * L, H);
  matrix[H, K * L] b = rep_matrix(0, H, K * L);
  for (j in 1:H) {
    int degree = 1 + (j - 1) % (L - 1);
    for (k in 1:K) {
      for (l in 1:L) {
        if (l <= degree) a[(k - 1) * L + l, j] = 1;
        if (degree < l) b[j, (k - 1) * L + l] = 1;
      }
    }
  }
}
parameters { real mu; }
model { target += sum(a) * mu + sum(b) * mu^2; }
)",
                      R"({"H": 24, "L": 10, "K": 4})");
  for (double mu : {0.5, -2.0}) {
    BOOST_TEST(lp(*m, {mu}) == 444 * mu + 516 * mu * mu, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(gradient(*m, {mu})[0] == 444 + 2 * 516 * mu, boost::test_tools::tolerance(1e-12));
  }
}

// A loop over data alone read only through its final state keeps that state,
// not its history (ScanLast): the triangular mask of an autoregressive model,
// built column by column in transformed data, at D = 784 (its history would be
// 785 copies of a 784 x 784 matrix, refused as too large), equals the closed
// form; the same loop in the model block lowers to one ScanLast and no Scan.
BOOST_AUTO_TEST_CASE(a_data_loop_read_at_its_end_keeps_its_final_state) {
  const std::string transformed = R"(
data { int D; }
transformed data {
  matrix[D, D] mask = rep_matrix(0, D, D);
  for (i in 1:D) for (j in 1:(i - 1)) mask[j, i] = 1;
  real below = 0;
  for (i in 1:D) for (j in 1:D) below += mask[j, i] * (j < i);
}
parameters { real mu; }
model { target += sum(mask) * mu + below * mu^2; }
)";
  for (int D : {41, 784}) {  // an odd count ends in the scratch buffer
    auto m = make_model(transformed, "{\"D\": " + std::to_string(D) + "}");
    const double ones = D * (D - 1) / 2.0;  // mask[j, i] = 1 exactly where j < i
    BOOST_TEST(lp(*m, {0.5}) == ones * 0.5 + ones * 0.25, boost::test_tools::tolerance(1e-12));
  }
  const std::string in_model = R"(
data { int D; }
parameters { real mu; }
model {
  matrix[D, D] mask = rep_matrix(0, D, D);
  for (i in 1:D) for (j in 1:(i - 1)) mask[j, i] = 1;
  target += sum(mask) * mu;
}
)";
  LoweredProgram lp_ = driver::lower(*parse_text(in_model), DataSet::from_json_string(R"({"D": 60})", "data.json"));
  std::vector<ir::NodeP> roots;
  for (const Term& t : lp_.terms) roots.push_back(t.value);
  int scans = 0, scan_lasts = 0;
  for (ir::NodeP n : ir::topological_order(roots)) {
    scans += n->op == ir::Op::Scan;
    if (n->op != ir::Op::ScanLast) continue;
    ++scan_lasts;
    BOOST_TEST((n->dims == std::vector<int64_t>{60, 60}));
  }
  BOOST_TEST(scans == 0);
  BOOST_TEST(scan_lasts == 1);
  auto m = make_model(in_model, R"({"D": 60})");
  BOOST_TEST(lp(*m, {2.0}) == 60 * 59 / 2.0 * 2.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(gradient(*m, {2.0})[0] == 60 * 59 / 2.0, boost::test_tools::tolerance(1e-12));
}

// Simplexes with many free elements in all are built by a Scan over the stick:
// the values and log-Jacobian equal Stan's stick-breaking transform computed
// here in double precision, the gradient finite differences, and the graph does
// not grow with K.
BOOST_AUTO_TEST_CASE(simplexes_by_a_scan_over_the_stick) {
  const int64_t K = 20, count = 3;
  auto m = make_model("parameters { array[3] simplex[20] theta; }\nmodel { }\n");
  std::mt19937_64 rng(11);
  std::vector<double> u = random_theta(rng, static_cast<size_t>((K - 1) * count), -2, 2);
  // Output columns are in Stan's order: theta.1.1, theta.2.1, ... (first index fastest).
  std::vector<double> out = m->constrained_outputs(u.data());
  BOOST_REQUIRE(out.size() == static_cast<size_t>(K * count));
  auto x = [&](int64_t at) { return out[static_cast<size_t>((at % K) * count + at / K)]; };
  BOOST_TEST(m->output_names().at(1) == "theta.2.1");
  double log_j = 0;
  for (int64_t s = 0; s < count; ++s) {
    double stick = 1, total = 0;
    for (int64_t k = 0; k < K - 1; ++k) {
      double adj = u[static_cast<size_t>(s * (K - 1) + k)] - std::log(static_cast<double>(K - k - 1));
      double z = 1 / (1 + std::exp(-adj));
      double xk = stick * z;
      log_j += std::log(z) + std::log1p(-z) + std::log(stick);
      BOOST_TEST(x(s * K + k) == xk, boost::test_tools::tolerance(1e-12));
      total += xk;
      stick -= xk;
    }
    BOOST_TEST(x(s * K + K - 1) == stick, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(total + stick == 1.0, boost::test_tools::tolerance(1e-12));
  }
  BOOST_TEST(lp(*m, u) == log_j, boost::test_tools::tolerance(1e-11));
  check_gradient(*m, u, true, 1e-6, "array[3] simplex[20]");
  auto nodes_of = [](const std::string& k) {
    return scans_and_nodes("parameters { array[4] simplex[" + k + "] theta; }\nmodel { for (i in 1:4) theta[i] ~ dirichlet(rep_vector(2, " + k + ")); }\n", "{}");
  };
  BOOST_TEST(nodes_of("50").second == nodes_of("400").second);
}

// Slices whose length grows with the loop (a convolution over everything so far,
// as in the Imperial College covid-19 model): padded with zeros to their
// container's length, read by dot_product, dot_self and sum. Every slice
// function and index ranges, through a Scan, equal the unrolled loop and finite
// differences.
BOOST_AUTO_TEST_CASE(slices_growing_with_the_loop_read_by_reductions) {
  const char* model = R"(
data { int T; vector[T] w; matrix[T, 2] Z; }
parameters { real<lower=0> a; real<lower=-1, upper=1> b; }
model {
  vector[T] p;
  p[1] = a;
  for (t in 2:T) {
    real c = dot_product(head(p, t - 1), tail(w, t - 1));
    real d = dot_self(segment(p, 1, t - 1)) / t;
    real e = sum(sub_col(Z, 1, 2, t - 1)) + dot_product(sub_row(Z', 1, 1, t - 1), head(p, t - 1));
    real r = dot_product(p[1:(t - 1)], w[(T - t + 2):T]) + sum(w[t:T]);  // index ranges
    p[t] = b * c + 0.1 * tanh(d) + 0.01 * e + 0.05 * r + a;
  }
  p ~ normal(1, 2);
}
)";
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  const int T = 12;
  std::string w, z;
  for (int t = 0; t < T; ++t) w += (t ? ", " : "") + std::to_string(u(rng));
  for (int t = 0; t < T; ++t) z += std::string(t ? ", " : "") + "[" + std::to_string(u(rng)) + ", " + std::to_string(u(rng)) + "]";
  std::string data = "{\"T\": " + std::to_string(T) + ", \"w\": [" + w + "], \"Z\": [" + z + "]}";
  check_against_unrolled(model, "for (t in 2:T) {", data, 2);
}

// Without carried state the loop stays symbolic (a LoopSum): each term reads a
// prefix of its own length.
BOOST_AUTO_TEST_CASE(a_symbolic_loop_reads_prefixes_of_varying_length) {
  const char* model = R"(
data { int N; vector[N] x; vector[N] y; }
parameters { vector[N] w; real<lower=0> s; }
model {
  w ~ normal(0, 1);
  for (n in 1:N) {
    y[n] ~ normal(dot_product(head(x, n), tail(w, n)), s);
  }
}
)";
  check_against_unrolled(model, "for (n in 1:N) {", R"({"N": 6, "x": [0.5, -1, 2, 0.3, 0.1, -0.7], "y": [1, 0.2, -0.4, 0.9, 1.5, -2]})",
                         7, 0);
}

// Lengths known only at run time are checked as Stan checks them: a dot product
// of a growing prefix with a vector of fixed length fails where they differ.
// Lengths are ints, so data decides them: the check runs when the data is bound.
BOOST_AUTO_TEST_CASE(padded_lengths_are_checked_when_the_data_is_bound) {
  std::string error = user_error([] {
    make_model(R"(
data { int N; vector[N] w; }
parameters { real a; }
model {
  vector[N] p;
  p[1] = a;
  for (t in 2:N) {
    p[t] = 0.5 * dot_product(head(p, t - 1), head(w, 3)) + a;
  }
  p ~ normal(0, 1);
}
)",
               R"({"N": 12, "w": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]})");
  });
  BOOST_TEST(error.find("test.lat:8:18: dot_product: arguments have different sizes (the second has 3 elements) "
                        "(size of the first = 1)") != std::string::npos,
             error);
  error = user_error([] {
    make_model(R"(
data { int N; vector[N] w; }
parameters { real a; }
model { for (n in 1:N) target += a * dot_product(head(w, n), tail(w, 2)); }
)",
               R"({"N": 5, "w": [1, 2, 3, 4, 5]})");
  });
  BOOST_TEST(error.find("test.lat:4:38: dot_product: arguments have different sizes") != std::string::npos, error);
}

// An accumulation into one element of a matrix in a triangular inner loop
// (E[i, m] += ... over j < i, the covid-19 model's expected deaths): the inner
// loop sums values, not matrices of zeros, and the program does not grow with
// the size.
BOOST_AUTO_TEST_CASE(accumulating_into_an_element_in_a_triangular_loop) {
  auto model = [](int N) {
    return std::string(R"(
data { int N; vector[N] w; }
parameters { real<lower=0> a; real b; }
transformed parameters {
  matrix[N, 2] E = rep_matrix(0, N, 2);
  for (m in 1:2) {
    for (i in 2:N) {
      for (j in 1:(i - 1)) {
        E[i, m] += a * w[j] * m + b * j;
      }
    }
  }
}
model { a ~ normal(1, 1); b ~ normal(0, 1); to_vector(E) ~ normal(0, 10); }
)");
  };
  auto data = [](int N) {
    std::string w;
    for (int n = 0; n < N; ++n) w += (n ? ", " : "") + std::to_string(0.1 * (n % 7) - 0.2);
    return "{\"N\": " + std::to_string(N) + ", \"w\": [" + w + "]}";
  };
  check_against_unrolled(model(8), "for (j in 1:(i - 1)) {", data(8), 2, 0);
  BOOST_TEST(scans_and_nodes(model(20), data(20)).second == scans_and_nodes(model(200), data(200)).second);
  // No loop sums whole matrices (before: the loops over m, i and j each did).
  LoweredProgram lp = driver::lower(*parse_text(model(20)), DataSet::from_json_string(data(20), "data.json"));
  std::vector<ir::NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  int matrix_sums = 0;
  for (ir::NodeP n : ir::topological_order(roots)) matrix_sums += n->op == ir::Op::LoopSum && n->size() > 2;
  BOOST_TEST(matrix_sums == 0);
}

// A loop inside a loop over columns that reads and writes only column m of its
// matrices (the covid-19 model's infections, P[i, m] from sub_col(P, 1, m, i - 1)):
// the Scan carries those columns, not the matrices.
BOOST_AUTO_TEST_CASE(a_loop_touching_one_column_carries_that_column) {
  const char* model = R"(
data { int N; int M; vector[N] w; }
parameters { vector<lower=0>[M] y; real<lower=0, upper=1> r; }
transformed parameters {
  matrix[N, M] P = rep_matrix(0, N, M);
  matrix[N, M] C = rep_matrix(0, N, M);
  for (m in 1:M) {
    P[1, m] = y[m];
    for (i in 2:N) {
      real conv = dot_product(sub_col(P, 1, m, i - 1), tail(w, i - 1));
      C[i, m] = C[i - 1, m] + P[i - 1, m];
      P[i, m] = r * conv / (1 + C[i, m]) + 0.1 * col(P, m)[1];
    }
  }
}
model { y ~ normal(1, 1); to_vector(P) ~ normal(0, 5); to_vector(C) ~ normal(0, 20); }
)";
  const char* data = R"({"N": 10, "M": 3, "w": [0.1, 0.3, 0.2, 0.5, 0.4, 0.1, 0.2, 0.3, 0.6, 0.2]})";
  check_against_unrolled(model, "for (i in 2:N) {", data, 4, 3);
  LoweredProgram lp = driver::lower(*parse_text(model), DataSet::from_json_string(data, "data.json"));
  std::vector<ir::NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  for (ir::NodeP n : ir::topological_order(roots))
    if (n->op == ir::Op::Scan) BOOST_TEST((n->dims == std::vector<int64_t>{2 * 10, 10}));  // two columns, 9 steps + 1
  // Reading another column too (column 1): the matrix P is carried whole, with the same values.
  std::string other = model;
  other.replace(other.find("col(P, m)[1]"), 12, "col(P, 1)[1]");
  check_against_unrolled(other, "for (i in 2:N) {", data, 4, 3);
}

// Segments whose length is set by data per item, passed to a user-defined
// function (posteriordb's gpcm_latent_reg_irt: a partial credit model with m[i]
// thresholds for item i): the iterations run in groups of equal lengths, each a
// symbolic loop; the same values as unrolled, and the program does not grow
// with the number of responses.
BOOST_AUTO_TEST_CASE(iterations_grouped_by_lengths_known_from_data) {
  const char* model = R"(
functions {
  real pcm(int y, real theta, vector beta) {
    vector[rows(beta) + 1] unsummed = append_row(rep_vector(0.0, 1), theta - beta);
    return categorical_lpmf(y + 1 | softmax(cumulative_sum(unsummed)));
  }
}
data { int I; int N; array[N] int ii; array[N] int y; array[I] int m; array[I] int pos; }
parameters { vector[sum(m)] beta; vector[I] theta; }
model {
  beta ~ normal(0, 2);
  theta ~ normal(0, 1);
  for (n in 1:N) {
    target += pcm(y[n], theta[ii[n]], segment(beta, pos[ii[n]], m[ii[n]]));
  }
}
)";
  auto data = [](int N) {
    std::string ii, y;
    const int m[3] = {1, 3, 2};
    for (int n = 0; n < N; ++n) {
      int item = (n * 7) % 3;
      ii += (n ? ", " : "") + std::to_string(item + 1);
      y += (n ? ", " : "") + std::to_string((n * 5) % (m[item] + 1));
    }
    return "{\"I\": 3, \"N\": " + std::to_string(N) + ", \"ii\": [" + ii + "], \"y\": [" + y +
           "], \"m\": [1, 3, 2], \"pos\": [1, 2, 5]}";
  };
  check_against_unrolled(model, "for (n in 1:N) {", data(12), 9, 0);
  BOOST_TEST(scans_and_nodes(model, data(300)).second == scans_and_nodes(model, data(3000)).second);
}

// ---- break and continue ---------------------------------------------------------------------

namespace {

size_t count_ops(const std::string& model, const std::string& data, ir::Op op) {
  LoweredProgram lp = driver::lower(*parse_text(model), DataSet::from_json_string(data, "data.json"));
  std::vector<ir::NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  size_t n = 0;
  for (ir::NodeP node : ir::topological_order(roots)) n += node->op == op;
  return n;
}

double value_at(const std::string& model, const std::string& data, const std::vector<double>& theta) {
  auto m = make_model(model, data);
  return lp(*m, theta);
}

// The data and parameters of the models below (a series y, a location and a scale).
const std::string kSeriesModel = R"(
data { int T; vector[T] y; }
parameters { real mu; real<lower=0> sigma; }
)";

// That `statement` (a break) changes the model's value on this data: else a test
// of the break would pass without it ever running.
void check_the_break_runs(const std::string& model, const std::string& statement, const std::string& data) {
  std::string without = model;
  size_t at = without.find(statement);
  BOOST_REQUIRE(at != std::string::npos);
  without.erase(at, statement.size());
  const double with_break = value_at(model, data, {0.1, 0.2}), without_break = value_at(without, data, {0.1, 0.2});
  BOOST_TEST(std::abs(with_break - without_break) > 1e-3,
             "the break never ran (" << with_break << " both ways): the test does not test it");
}

}  // namespace

// Skipping data with continue: the loop stays symbolic (its iterations are
// independent), no Scan; the same as the `if`s written around the rest.
BOOST_AUTO_TEST_CASE(continue_keeps_a_loop_symbolic) {
  const std::string model = kSeriesModel + R"(
model {
  real total = 0;
  for (t in 1:T) {
    if (y[t] < -0.5) continue;
    real z = (y[t] - mu) / sigma;
    if (z > 1.5) continue;
    total += z;
    y[t] ~ normal(mu, sigma);
  }
  target += 0.1 * total;
  mu ~ normal(0, 1);
}
)";
  const std::string guarded = kSeriesModel + R"(
model {
  real total = 0;
  for (t in 1:T) {
    if (y[t] >= -0.5) {
      real z = (y[t] - mu) / sigma;
      if (z <= 1.5) {
        total += z;
        y[t] ~ normal(mu, sigma);
      }
    }
  }
  target += 0.1 * total;
  mu ~ normal(0, 1);
}
)";
  const std::string data = series_json(30);
  BOOST_TEST(count_ops(model, data, ir::Op::Scan) == 0u);
  BOOST_TEST(count_ops(model, data, ir::Op::LoopSum) > 0u);
  check_against(model, guarded, data, 2);
}

// A break on data in a recursion: a Scan carrying the flag, the same as unrolled
// (which stops lowering at the break), and not the same as the loop without it.
BOOST_AUTO_TEST_CASE(break_on_data_in_a_recursion) {
  const std::string model = kSeriesModel + R"(
model {
  vector[T] m = rep_vector(0, T);
  real s = 0;
  real acc = 0;
  for (t in 1:T) {
    if (y[t] < -1.2) continue;
    s = 0.5 * s + y[t];
    m[t] = s;
    if (s > 1.5) break;
    acc += square(y[t] - mu);
    y[t] ~ normal(mu + 0.1 * s, sigma);
  }
  target += -0.5 * acc + 0.01 * sum(m) * mu + s;
  mu ~ normal(0, 1);
}
)";
  const std::string data = series_json(40);
  check_against_unrolled(model, "for (t in 1:T) {", data, 2);
  check_the_break_runs(model, "if (s > 1.5) break;", data);
}

// A break whose condition depends on a parameter (an unrolled loop cannot stop
// there): the later iterations are masked. The same as the loop written with a
// flag of its own, unrolled.
BOOST_AUTO_TEST_CASE(break_on_a_parameter) {
  const std::string model = kSeriesModel + R"(
model {
  real s = 0;
  for (t in 1:T) {
    s = 0.7 * s + y[t];
    if (s > mu + 0.8) break;
    y[t] ~ normal(mu + 0.2 * s, sigma);
  }
  target += s;
  mu ~ normal(0, 1);
}
)";
  const std::string flagged = kSeriesModel + R"(
model {
  real s = 0;
  int stopped = 0;
  for (t in 1:T) {
    while (0) { }
    if (!stopped) {
      s = 0.7 * s + y[t];
      if (s > mu + 0.8) stopped = 1;
      else y[t] ~ normal(mu + 0.2 * s, sigma);
    }
  }
  target += s;
  mu ~ normal(0, 1);
}
)";
  const std::string data = series_json(40);
  BOOST_TEST(count_ops(model, data, ir::Op::Scan) == 1u);
  check_against(model, flagged, data, 2);
  check_the_break_runs(model, "if (s > mu + 0.8) break;", data);
}

// A counted while loop with a break: a for loop over the count, masked after the
// break, the counter's final value included; the same as unrolled and as the
// for loop; with the break on a parameter, the same as a flag of its own.
BOOST_AUTO_TEST_CASE(a_while_loop_with_break) {
  auto model = [](const std::string& condition) {
    return kSeriesModel + R"(
model {
  real s = 0;
  int t = 1;
  while (t <= T) {
    s = 0.6 * s + y[t];
    if ()" + condition + R"() break;
    y[t] ~ normal(mu + 0.2 * s, sigma);
    t += 1;
  }
  target += 0.1 * t * mu + s;
  mu ~ normal(0, 1);
}
)";
  };
  const std::string data = series_json(40);
  const std::string on_data = model("s > 1.2");
  check_against_unrolled(on_data, "while (t <= T) {", data, 2);
  const std::string as_for = kSeriesModel + R"(
model {
  real s = 0;
  int t = 1;
  for (k in 1:T) {
    s = 0.6 * s + y[t];
    if (s > 1.2) break;
    y[t] ~ normal(mu + 0.2 * s, sigma);
    t += 1;
  }
  target += 0.1 * t * mu + s;
  mu ~ normal(0, 1);
}
)";
  check_against(on_data, as_for, data, 2);
  const std::string on_parameter = model("s > mu + 1.2");
  const std::string flagged = kSeriesModel + R"(
model {
  real s = 0;
  int t = 1;
  int stopped = 0;
  for (k in 1:T) {
    while (0) { }
    if (!stopped) {
      s = 0.6 * s + y[t];
      if (s > mu + 1.2) stopped = 1;
      else {
        y[t] ~ normal(mu + 0.2 * s, sigma);
        t += 1;
      }
    }
  }
  target += 0.1 * t * mu + s;
  mu ~ normal(0, 1);
}
)";
  BOOST_TEST(count_ops(on_parameter, data, ir::Op::Scan) == 1u);
  check_against(on_parameter, flagged, data, 2);
}

// The break of an inner loop ends that loop only: the outer loop stays symbolic
// around the inner Scan, and a continue of the outer loop after it is masked too.
BOOST_AUTO_TEST_CASE(a_break_in_an_inner_loop) {
  const std::string model = R"(
data { int T; vector[T] y; }
parameters { real mu; }
model {
  for (i in 1:T) {
    real s = 0;
    for (t in 1:T) {
      s += y[t];
      if (s > 1 + y[i]) break;
      target += -0.5 * square(y[t] - mu) / T;
    }
    if (y[i] < 0) continue;
    target += 0.05 * s;
  }
}
)";
  const std::string data = series_json(10);
  BOOST_TEST(count_ops(model, data, ir::Op::Scan) == 1u);
  BOOST_TEST(count_ops(model, data, ir::Op::LoopSum) > 0u);
  check_against(model, unrolled(unrolled(model, "for (t in 1:T) {"), "for (i in 1:T) {"), data, 1);
}
