// Generating from fitted deep generative models (runtime/inference/generate.hpp,
// `latent sample`):
//  1. prior samples of a linear decoder: their mean and variance against the
//     closed form, and the decoded mean at a given theta exactly;
//  2. priors that depend on other parameters (a two-level model), cycles;
//     priors drawn element by element (z[t] ~ ...), simulated in dependence order;
//  3. reconstruction and interpolation through a hand-set encoder;
//  4. the mean of each supported distribution; models without a plate;
//  5. user errors of the library: no prior, rows out of range, no test
//     split, a fit for another model;
//  6. the command line on IDX image fixtures: PNG grids (sizes and pixels),
//     CSV, the test split, and its user errors.
#define BOOST_TEST_MODULE sample
#include "tests/support/svi_fixture.hpp"

#include "compiler/frontend/frontend.hpp"
#include "data/data_source.hpp"
#include "runtime/inference/generate.hpp"
#include "runtime/output/png_grid.hpp"
#include "runtime/output/svi_fit.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <numeric>

using namespace latent;
using namespace latent::testing;

namespace {



// Sets the network tensor `name` (IR storage order) in phi.
void set_tensor(const Generator& gen, std::vector<double>& phi, const std::string& name,
                const std::vector<double>& values) {
  const SviModel::Compiled& c = gen.layout();
  for (const NetworkTensor& t : c.lowered.network) {
    if (t.name != name) continue;
    BOOST_REQUIRE_EQUAL(t.size(), static_cast<int64_t>(values.size()));
    int64_t base = t.buffer == 3 ? 0 : c.objective.layout.guide_network_offset;
    std::copy(values.begin(), values.end(), phi.begin() + base + t.offset);
    return;
  }
  BOOST_FAIL("no network tensor " << name);
}

const ParameterInfo& parameter(const LoweredProgram& p, const std::string& name) {
  for (const ParameterInfo& par : p.parameters)
    if (par.name == name) return par;
  throw std::runtime_error("no parameter " + name);
}

// Column j of a generated field: mean and variance over the rows.
std::pair<double, double> moments(const Generated& g, size_t field, int64_t j) {
  const int64_t n = g.fields[field].row_size();
  double s = 0, ss = 0;
  for (int64_t r = 0; r < g.rows; ++r) s += g.values[field][static_cast<size_t>(r * n + j)];
  double mean = s / static_cast<double>(g.rows);
  for (int64_t r = 0; r < g.rows; ++r) {
    double d = g.values[field][static_cast<size_t>(r * n + j)] - mean;
    ss += d * d;
  }
  return {mean, ss / static_cast<double>(g.rows - 1)};
}

// x | z ~ normal(z W + b, 1), z ~ N(0, I) (two latent dimensions, three observed),
// with an encoder q(z | x) = normal(x E + c, 1).
const char* kLinear = R"(data {
  int<plate> N;
  int<lower=1> D;
  matrix[N, D] x;
}
network {
  dense dec(2, D);
}
parameters {
  matrix[N, 2] z;
}
model {
  to_vector(z) ~ std_normal();
  x ~ normal(dec(z), 1);
}
guide {
  network {
    dense enc(D, 2);
  }
  z ~ normal(enc(x), 1);
}
)";

const char* kLinearData = R"({"N": 5, "D": 3, "x": [[0.5, -1, 2], [1, 0.25, -0.5], [3, 1, 0], [-2, 0.5, 1.5], [0, 0, 1]]})";

// Rows of kLinearData.
const std::vector<std::vector<double>> kX{{0.5, -1, 2}, {1, 0.25, -0.5}, {3, 1, 0}, {-2, 0.5, 1.5}, {0, 0, 1}};

// W[k][j] (2 x 3), b[j]; E[j][k] (3 x 2), c[k].
const double W[2][3] = {{0.5, -1.5, 2.0}, {1.0, 0.25, -0.75}};
const double B[3] = {3.0, -2.0, 0.5};
const double E[3][2] = {{0.2, -0.4}, {1.1, 0.3}, {-0.6, 0.9}};
const double C[2] = {0.1, -0.2};

// The linear model's generator with W, b, E, c in phi.
std::unique_ptr<Generator> linear_generator(std::shared_ptr<const DataSource> data = json_source(kLinearData)) {
  auto gen = std::make_unique<Generator>(program(kLinear), data);
  std::vector<double> phi(static_cast<size_t>(gen->layout().num_phi()), 0.0);
  std::vector<double> w, e;
  for (int j = 0; j < 3; ++j)
    for (int k = 0; k < 2; ++k) w.push_back(W[k][j]);  // {2, 3} column-major: (k, j) at j * 2 + k
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j) e.push_back(E[j][k]);  // {3, 2}: (j, k) at k * 3 + j
  set_tensor(*gen, phi, "dec.weight", w);
  set_tensor(*gen, phi, "dec.bias", {B[0], B[1], B[2]});
  set_tensor(*gen, phi, "enc.weight", e);
  set_tensor(*gen, phi, "enc.bias", {C[0], C[1]});
  gen->set_phi(phi);
  gen->set_output(Output::Means);  // the tests below check the decoded means exactly; draws are tested apart
  return gen;
}

std::vector<double> decode_row(const double z[2]) {
  std::vector<double> x(3);
  for (int j = 0; j < 3; ++j) x[static_cast<size_t>(j)] = z[0] * W[0][j] + z[1] * W[1][j] + B[j];
  return x;
}

std::vector<double> reconstruct_row(const std::vector<double>& x) {
  double z[2];
  for (int k = 0; k < 2; ++k) z[k] = x[0] * E[0][k] + x[1] * E[1][k] + x[2] * E[2][k] + C[k];
  return decode_row(z);
}

void check_row(const std::vector<double>& got, const std::vector<double>& want, double tol, const std::string& what) {
  BOOST_REQUIRE_EQUAL(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    BOOST_CHECK_MESSAGE(std::fabs(got[i] - want[i]) <= tol * std::max(1.0, std::fabs(want[i])),
                        what << "[" << i << "]: " << got[i] << " vs " << want[i]);
}

}  // namespace

// ---- 1. prior samples ------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(prior_samples_of_a_linear_decoder_have_the_closed_form_moments) {
  auto gen = linear_generator();
  BOOST_REQUIRE_EQUAL(gen->fields().size(), 1u);
  BOOST_CHECK_EQUAL(gen->fields()[0].name, "x");
  BOOST_CHECK_EQUAL(gen->fields()[0].row_size(), 3);
  const int64_t n = 20000;
  Generated g = gen->prior(n, 7, Globals::Default, 512);  // 40 batches, the last one partial
  BOOST_REQUIRE_EQUAL(g.rows, n);
  for (int j = 0; j < 3; ++j) {
    // x_j = sum_k z_k W_kj + b_j: mean b_j, variance sum_k W_kj^2.
    double var = W[0][j] * W[0][j] + W[1][j] * W[1][j];
    auto [mean, v] = moments(g, 0, j);
    BOOST_CHECK_MESSAGE(std::fabs(mean - B[j]) < 5 * std::sqrt(var / n), "mean of x." << j + 1 << " " << mean);
    BOOST_CHECK_MESSAGE(std::fabs(v - var) < 0.05 * var, "variance of x." << j + 1 << " " << v << " vs " << var);
  }
  // The same seed gives the same rows; another seed others.
  Generated a = gen->prior(10, 3), b = gen->prior(10, 3), c = gen->prior(10, 4);
  BOOST_CHECK(a.values == b.values);
  BOOST_CHECK(a.values != c.values);
}

BOOST_AUTO_TEST_CASE(decoded_mean_at_a_given_theta_is_exact) {
  auto gen = linear_generator();
  const int64_t R = 3;
  const LoweredProgram& p = gen->lowered(R);
  const ParameterInfo& z = parameter(p, "z");
  BOOST_REQUIRE_EQUAL(z.unconstrained_size, R * 2);
  const double zs[3][2] = {{0.3, -1.2}, {2.0, 0.5}, {-0.7, 0.0}};
  std::vector<double> theta(static_cast<size_t>(p.num_unconstrained), 0.0);
  for (int r = 0; r < R; ++r)
    for (int k = 0; k < 2; ++k) theta[static_cast<size_t>(z.unconstrained_offset + k * R + r)] = zs[r][k];
  Generated g = gen->decode(theta, R);
  BOOST_REQUIRE_EQUAL(g.rows, R);
  for (int r = 0; r < R; ++r) check_row(g.row(0, r), decode_row(zs[r]), 1e-14, "row " + std::to_string(r));
}

// Draws (the default): x | z ~ normal(z W + b, 1), so each x_j has the means' variance plus 1.
BOOST_AUTO_TEST_CASE(prior_draws_of_a_linear_decoder_add_the_observation_noise) {
  auto gen = linear_generator();
  gen->set_output(Output::Draws);
  const int64_t n = 20000;
  Generated g = gen->prior(n, 17, Globals::Default, 512);
  for (int j = 0; j < 3; ++j) {
    double var = W[0][j] * W[0][j] + W[1][j] * W[1][j] + 1;
    auto [mean, v] = moments(g, 0, j);
    BOOST_CHECK_MESSAGE(std::fabs(mean - B[j]) < 5 * std::sqrt(var / n), "mean of x." << j + 1 << " " << mean);
    BOOST_CHECK_MESSAGE(std::fabs(v - var) < 0.05 * var, "variance of x." << j + 1 << " " << v << " vs " << var);
  }
  // The draws of a reconstruction differ with the seed; the means do not.
  auto data = json_source(kLinearData);
  gen->set_seed(1);
  Generated a = gen->reconstruct({{data, 1}});
  gen->set_seed(2);
  Generated b = gen->reconstruct({{data, 1}});
  BOOST_CHECK(a.values != b.values);
}

// An autoregressive model over 3 binary positions: position i's logit reads the
// positions before it through a strictly triangular mask. Sampling is position by
// position (ancestral), so the joint frequencies of the 8 patterns match the
// model's exact probabilities (chi-square at the 0.1% level).
const char* kAutoregressive = R"(data {
  int<plate> N;
  matrix<lower=0, upper=1>[N, 3] x;
}
transformed data {
  matrix[3, 3] mask = rep_matrix(0, 3, 3);
  for (i in 1:3)
    for (j in 1:(i - 1))
      mask[j, i] = 1;
}
network {
  matrix[3, 3] W;
  row_vector[3] b;
}
model {
  x ~ bernoulli_logit(x * (W .* mask) + rep_matrix(b, N));
}
)";

BOOST_AUTO_TEST_CASE(an_autoregressive_variable_is_drawn_position_by_position) {
  auto data = json_source(R"({"N": 2, "x": [[1, 1, 1], [1, 1, 1]]})");
  auto gen = std::make_unique<Generator>(program(kAutoregressive), data);
  std::vector<double> phi(static_cast<size_t>(gen->layout().num_phi()), 0.0);
  // W (column-major {3, 3}): W[1,2] = 2, W[1,3] = -1.5, W[2,3] = 3; b = (-0.5, 0.25, -1).
  const double w12 = 2, w13 = -1.5, w23 = 3, b[3] = {-0.5, 0.25, -1};
  set_tensor(*gen, phi, "W", {0, 0, 0, w12, 0, 0, w13, w23, 0});
  set_tensor(*gen, phi, "b", {b[0], b[1], b[2]});
  gen->set_phi(phi);
  const int64_t n = 20000;
  Generated g = gen->prior(n, 21);
  BOOST_REQUIRE_EQUAL(g.rows, n);
  auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  std::vector<double> counts(8, 0.0);
  for (int64_t r = 0; r < n; ++r) {
    std::vector<double> x = g.row(0, r);
    for (double v : x) BOOST_REQUIRE(v == 0 || v == 1);
    counts[static_cast<size_t>(x[0] + 2 * x[1] + 4 * x[2])] += 1;
  }
  double chi2 = 0;
  for (int pattern = 0; pattern < 8; ++pattern) {
    double x1 = pattern & 1, x2 = (pattern >> 1) & 1, x3 = (pattern >> 2) & 1;
    double p1 = sigmoid(b[0]), p2 = sigmoid(b[1] + w12 * x1), p3 = sigmoid(b[2] + w13 * x1 + w23 * x2);
    double p = (x1 ? p1 : 1 - p1) * (x2 ? p2 : 1 - p2) * (x3 ? p3 : 1 - p3);
    double expected = p * static_cast<double>(n);
    chi2 += (counts[static_cast<size_t>(pattern)] - expected) * (counts[static_cast<size_t>(pattern)] - expected) / expected;
  }
  BOOST_CHECK_MESSAGE(chi2 < 24.32, "chi-square " << chi2 << " with 7 degrees of freedom (0.1% critical value 24.32)");
  // Not the data rows: the teacher-forced one-step predictions of all-ones rows
  // would make every pattern's third position mostly 1.
  BOOST_CHECK(counts[7] < 0.5 * static_cast<double>(n));
}

// A mask that lets a position read a later one: drawing in index order would be
// wrong, so it is refused.
BOOST_AUTO_TEST_CASE(a_variable_reading_its_later_positions_is_refused) {
  std::string text = kAutoregressive;
  text.replace(text.find("mask[j, i] = 1;"), std::string("mask[j, i] = 1;").size(), "mask[i, j] = 1;");
  auto gen = std::make_unique<Generator>(program(text), json_source(R"({"N": 2, "x": [[1, 1, 1], [1, 1, 1]]})"));
  std::vector<double> phi(static_cast<size_t>(gen->layout().num_phi()), 0.0);
  set_tensor(*gen, phi, "W", {0, 2, -1.5, 0, 0, 3, 0, 0, 0});
  gen->set_phi(phi);
  std::string msg = user_error([&] { gen->prior(4, 1); });
  BOOST_CHECK_MESSAGE(contains(msg, "'x' feeds its own distribution") && contains(msg, "autoregressive"), msg);
}

// A program with generated quantities generates those, per row: here y = z + 100
// plus a small draw, z from its prior: mean 100, variance 1.
BOOST_AUTO_TEST_CASE(generated_quantities_are_what_is_generated_when_present) {
  auto data = json_source(R"({"N": 2, "x": [1, 2]})");
  Generator gen(program(R"(data { int<plate> N; vector[N] x; }
parameters { vector[N] z; }
model { z ~ std_normal(); x ~ normal(z, 1); }
generated quantities { vector[N] y = to_vector(normal_rng(z, 0.001)) + 100; }
)"),
                data);
  gen.set_phi(std::vector<double>(static_cast<size_t>(gen.layout().num_phi()), 0.0));
  BOOST_REQUIRE_EQUAL(gen.fields().size(), 1u);
  BOOST_CHECK_EQUAL(gen.fields()[0].name, "y");
  const int64_t n = 20000;
  Generated g = gen.prior(n, 4);
  auto [mean, var] = moments(g, 0, 0);
  BOOST_CHECK_MESSAGE(std::fabs(mean - 100) < 5 / std::sqrt(static_cast<double>(n)), "mean " << mean);
  BOOST_CHECK_MESSAGE(std::fabs(var - 1) < 0.05, "variance " << var);
  // A quantity that is not per data point cannot be written per row.
  std::string msg = user_error([&] {
    Generator other(program(R"(data { int<plate> N; vector[N] x; }
parameters { vector[N] z; }
model { z ~ std_normal(); x ~ normal(z, 1); }
generated quantities { real total = sum(z); }
)"),
                    data);
  });
  BOOST_CHECK_MESSAGE(contains(msg, "'total' is not indexed by the plate"), msg);
}

// ---- 2. priors that depend on parameters ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_prior_may_depend_on_another_parameters_draw) {
  // z2 ~ N(0, 1), z1 | z2 ~ N(3 z2 + 5, 0.5), x = z1 (the mean of normal(z1, 1)):
  // x has mean 5 and variance 9.25. No network, no guide: the automatic guide.
  auto gen = std::make_unique<Generator>(program(R"(data { int<plate> N; vector[N] x; }
parameters { vector[N] z1; vector[N] z2; }
model {
  z1 ~ normal(3 * z2 + 5, 0.5);
  z2 ~ std_normal();
  x ~ normal(z1, 1);
}
)"),
                                         json_source(R"({"N": 2, "x": [1, 2]})"));
  gen->set_phi(std::vector<double>(static_cast<size_t>(gen->layout().num_phi()), 0.0));
  gen->set_output(Output::Means);
  const int64_t n = 20000;
  Generated g = gen->prior(n, 11);
  auto [mean, var] = moments(g, 0, 0);
  BOOST_CHECK_MESSAGE(std::fabs(mean - 5) < 5 * std::sqrt(9.25 / n), "mean " << mean);
  BOOST_CHECK_MESSAGE(std::fabs(var - 9.25) < 0.05 * 9.25, "variance " << var);
}

BOOST_AUTO_TEST_CASE(priors_in_a_cycle_are_an_error) {
  auto gen = std::make_unique<Generator>(program(R"(data { int<plate> N; vector[N] x; }
parameters { vector[N] a; vector[N] b; }
model {
  a ~ normal(b, 1);
  b ~ normal(a, 1);
  x ~ normal(a, 1);
}
)"),
                                         json_source(R"({"N": 2, "x": [1, 2]})"));
  gen->set_phi(std::vector<double>(static_cast<size_t>(gen->layout().num_phi()), 0.0));
  std::string msg = user_error([&] { gen->prior(4, 1); });
  BOOST_CHECK_MESSAGE(contains(msg, "cycle") && contains(msg, "'a'") && contains(msg, "'b'"), msg);
}

BOOST_AUTO_TEST_CASE(a_prior_drawn_element_by_element_is_simulated_in_any_statement_order) {
  // z[1] ~ N(0, 1), z[t] | z[t-1] ~ N(2 z[t-1] + 1, 0.5), x = z[3] (the mean of
  // normal(z[3], 1)); z[2] and z[3] are drawn by a statement before z[1]'s.
  // z[2]: mean 1, variance 4.25; z[3]: mean 3, variance 4 * 4.25 + 0.25 = 17.25.
  auto gen = std::make_unique<Generator>(program(R"(data { int<plate> N; vector[N] x; }
parameters { array[3] vector[N] z; }
model {
  for (t in 2:3) z[t] ~ normal(2 * z[t - 1] + 1, 0.5);
  z[1] ~ std_normal();
  x ~ normal(z[3], 1);
}
)"),
                                         json_source(R"({"N": 2, "x": [1, 2]})"));
  gen->set_phi(std::vector<double>(static_cast<size_t>(gen->layout().num_phi()), 0.0));
  gen->set_output(Output::Means);
  const int64_t n = 20000;
  Generated g = gen->prior(n, 13);
  auto [mean, var] = moments(g, 0, 0);
  BOOST_CHECK_MESSAGE(std::fabs(mean - 3) < 5 * std::sqrt(17.25 / n), "mean " << mean);
  BOOST_CHECK_MESSAGE(std::fabs(var - 17.25) < 0.05 * 17.25, "variance " << var);
}

BOOST_AUTO_TEST_CASE(a_random_walk_prior_without_a_plate_is_simulated) {
  // mu[1] ~ N(0, 1), mu[t] ~ N(mu[t-1], 1): y = mu has variances 1, 2, 3.
  auto gen = std::make_unique<Generator>(program(R"(data { vector[3] y; }
parameters { vector[3] mu; }
model {
  mu[1] ~ normal(0, 1);
  for (t in 2:3) mu[t] ~ normal(mu[t - 1], 1);
  y ~ normal(mu, 1);
}
)"),
                                         json_source(R"({"y": [1, 2, 3]})"));
  gen->set_phi(std::vector<double>(static_cast<size_t>(gen->layout().num_phi()), 0.0));
  gen->set_output(Output::Means);
  const int64_t n = 20000;
  Generated g = gen->prior(n, 3);
  for (int64_t j = 0; j < 3; ++j) {
    auto [mean, var] = moments(g, 0, j);
    const double want = static_cast<double>(j + 1);
    BOOST_CHECK_MESSAGE(std::fabs(mean) < 5 * std::sqrt(want / n), "column " << j << " mean " << mean);
    BOOST_CHECK_MESSAGE(std::fabs(var - want) < 0.05 * want, "column " << j << " variance " << var);
  }
}

BOOST_AUTO_TEST_CASE(a_prior_drawn_element_by_element_must_draw_every_element_once_in_order) {
  auto error_of = [](const std::string& model) {
    Generator gen(program(R"(data { int<plate> N; vector[N] x; }
parameters { array[3] vector[N] z; }
model {
)" + model + R"(
  x ~ normal(z[3], 1);
}
)"),
                  json_source(R"({"N": 2, "x": [1, 2]})"));
    gen.set_phi(std::vector<double>(static_cast<size_t>(gen.layout().num_phi()), 0.0));
    return user_error([&] { gen.prior(4, 1); });
  };
  std::string msg = error_of("for (t in 2:3) z[t] ~ normal(z[t - 1], 1);");
  BOOST_CHECK_MESSAGE(contains(msg, "parameter 'z' is drawn element by element") &&
                          contains(msg, "not every element is drawn"), msg);
  msg = error_of("z[1] ~ normal(z[2], 1); z[2] ~ normal(z[1], 1); z[3] ~ normal(0, 1);");
  BOOST_CHECK_MESSAGE(contains(msg, "read each other in a cycle"), msg);
  // A statement that cannot be simulated is named with its location.
  Generator walk(program(R"(data { vector[3] y; }
parameters { vector[3] mu; }
model {
  mu[1] ~ normal(0, 1);
  for (t in 2:3) mu[t] ~ normal(mu[t - 1], 1) T[-10, 10];
  y ~ normal(mu, 1);
}
)"),
                 json_source(R"({"y": [1, 2, 3]})"));
  walk.set_phi(std::vector<double>(static_cast<size_t>(walk.layout().num_phi()), 0.0));
  msg = user_error([&] { walk.prior(4, 1); });
  BOOST_CHECK_MESSAGE(contains(msg, "test.lat:5:") && contains(msg, "normal is truncated"), msg);
}

// ---- 3. reconstruction and interpolation --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(reconstruction_goes_through_the_encoders_mean) {
  auto data = json_source(kLinearData);
  auto gen = linear_generator(data);
  std::vector<DataRow> rows{{data, 1}, {data, 3}, {data, 4}};
  for (int64_t batch : {256, 2, 1}) {  // one call, a padded last batch, one row per call
    Generated g = gen->reconstruct(rows, batch);
    BOOST_REQUIRE_EQUAL(g.rows, 3);
    for (size_t i = 0; i < rows.size(); ++i)
      check_row(g.row(0, static_cast<int64_t>(i)), reconstruct_row(kX[static_cast<size_t>(rows[i].row)]), 1e-13,
                "reconstruction of row " + std::to_string(rows[i].row));
  }
  Generated o = gen->originals(rows);
  for (size_t i = 0; i < rows.size(); ++i)
    check_row(o.row(0, static_cast<int64_t>(i)), kX[static_cast<size_t>(rows[i].row)], 0, "original");
  // The guide's mean as theta.
  std::vector<double> theta = gen->encode({{data, 2}});
  const ParameterInfo& z = parameter(gen->lowered(1), "z");
  for (int k = 0; k < 2; ++k)
    BOOST_CHECK_CLOSE(theta[static_cast<size_t>(z.unconstrained_offset + k)],
                      kX[2][0] * E[0][k] + kX[2][1] * E[1][k] + kX[2][2] * E[2][k] + C[k], 1e-12);
}

BOOST_AUTO_TEST_CASE(interpolation_runs_along_the_line_between_two_codes) {
  auto data = json_source(kLinearData);
  auto gen = linear_generator(data);
  Generated g = gen->interpolate({data, 0}, {data, 3}, 5);
  BOOST_REQUIRE_EQUAL(g.rows, 5);
  std::vector<double> a = reconstruct_row(kX[0]), b = reconstruct_row(kX[3]);
  // The decoder is affine: the decoded line is the line between the reconstructions.
  for (int i = 0; i < 5; ++i) {
    double t = i / 4.0;
    std::vector<double> want(3);
    for (int j = 0; j < 3; ++j) want[static_cast<size_t>(j)] = (1 - t) * a[static_cast<size_t>(j)] + t * b[static_cast<size_t>(j)];
    check_row(g.row(0, i), want, 1e-12, "step " + std::to_string(i));
  }
}

// ---- 4. means of distributions; models without a plate -----------------------------------------------------

BOOST_AUTO_TEST_CASE(decoded_means_of_each_distribution) {
  auto gen = std::make_unique<Generator>(program(R"(data {
  int<plate> N;
  array[N] int<lower=0, upper=1> a;
  array[N] int<lower=0> c;
  vector<lower=0>[N] l;
  vector<lower=0>[N] gm;
  vector[N] t;
  vector<lower=0>[N] e;
  array[N] int<lower=0> bn;
  vector<lower=0, upper=1>[N] bt;
  vector[N] u;
}
parameters { vector[N] z; }
model {
  z ~ std_normal();
  a ~ bernoulli_logit(z);
  c ~ poisson_log(z);
  l ~ lognormal(z, 0.5);
  gm ~ gamma(exp(z), 2);
  t ~ student_t(3, z, 1);
  e ~ exponential(exp(z));
  bn ~ binomial_logit(10, z);
  bt ~ beta(exp(z), 2);
  u ~ uniform(z, z + 4);
}
)"),
                                         json_source(R"({"N": 2, "a": [0, 1], "c": [2, 0], "l": [1, 2], "gm": [1, 3],
                                                        "t": [0, 1], "e": [1, 1], "bn": [3, 4], "bt": [0.5, 0.2],
                                                        "u": [0, 1]})"));
  gen->set_phi(std::vector<double>(static_cast<size_t>(gen->layout().num_phi()), 0.0));
  gen->set_output(Output::Means);
  std::vector<double> z{0.3, -1.2};
  Generated g = gen->decode(z, 2);
  BOOST_REQUIRE_EQUAL(g.fields.size(), 9u);
  auto inv_logit = [](double x) { return 1 / (1 + std::exp(-x)); };
  std::vector<std::function<double(double)>> want{
      inv_logit,
      [](double x) { return std::exp(x); },
      [](double x) { return std::exp(x + 0.125); },
      [](double x) { return std::exp(x) / 2; },
      [](double x) { return x; },
      [](double x) { return std::exp(-x); },
      [&](double x) { return 10 * inv_logit(x); },
      [](double x) { return std::exp(x) / (std::exp(x) + 2); },
      [](double x) { return x + 2; }};
  for (size_t f = 0; f < want.size(); ++f)
    for (int r = 0; r < 2; ++r)
      BOOST_CHECK_MESSAGE(close_rel(g.values[f][static_cast<size_t>(r)], want[f](z[static_cast<size_t>(r)]), 1e-13),
                          g.fields[f].name << "[" << r << "] = " << g.values[f][static_cast<size_t>(r)] << " vs "
                                           << want[f](z[static_cast<size_t>(r)]));
}

BOOST_AUTO_TEST_CASE(a_model_without_a_plate_generates_whole_data_sets) {
  // mu ~ N(2, 0.1), y ~ normal(mu, 1): each row is one draw of the mean of y (3 values).
  const char* model = R"(data { vector[3] y; }
parameters { real mu; real<lower=0> sigma; }
model { mu ~ normal(2, 0.1); y ~ normal(mu, sigma); }
)";
  auto gen = std::make_unique<Generator>(program(model), json_source(R"({"y": [1, 2, 3]})"));
  BOOST_REQUIRE_EQUAL(gen->fields().size(), 1u);
  BOOST_CHECK_EQUAL(gen->fields()[0].row_size(), 3);
  std::vector<double> phi(static_cast<size_t>(gen->layout().num_phi()), 0.0);
  const SviLayout& L = gen->layout().objective.layout;
  for (const AutoGuided& a : L.automatic)
    if (a.name == "mu") phi[static_cast<size_t>(L.auto_offset + a.phi_offset)] = 0.7;  // q's mean of mu
  gen->set_phi(phi);
  gen->set_output(Output::Means);
  // Default without a plate: drawn from the prior (sigma is not needed: no prior asked for).
  Generated g = gen->prior(4000, 5);
  BOOST_REQUIRE_EQUAL(g.rows, 4000);
  auto [mean, var] = moments(g, 0, 1);
  BOOST_CHECK_MESSAGE(std::fabs(mean - 2) < 5 * 0.1 / std::sqrt(4000.0), "mean " << mean);
  BOOST_CHECK_MESSAGE(std::fabs(var - 0.01) < 0.1 * 0.01, "variance " << var);
  for (int64_t r = 0; r < 3; ++r) BOOST_CHECK_EQUAL(g.row(0, r)[0], g.row(0, r)[2]);
  // Globals at their fit: every row at q's mean.
  Generated f = gen->prior(3, 5, Globals::Fit);
  for (double v : f.values[0]) BOOST_CHECK_CLOSE(v, 0.7, 1e-12);
}

// ---- 5. user errors of the library ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_parameter_without_a_prior_cannot_be_drawn) {
  auto data = json_source(kLinearData);
  std::string text = kLinear;
  text.replace(text.find("to_vector(z) ~ std_normal();"), std::string("to_vector(z) ~ std_normal();").size(), "");
  Generator gen(program(text), data);
  gen.set_phi(std::vector<double>(static_cast<size_t>(gen.layout().num_phi()), 0.0));
  std::string msg = user_error([&] { gen.prior(4, 1); });
  BOOST_CHECK_MESSAGE(contains(msg, "test.lat") && contains(msg, "parameter 'z' has no prior to draw from"), msg);
  // Reconstruction needs no prior.
  BOOST_CHECK_EQUAL(gen.reconstruct({{data, 0}}).rows, 1);
}

// A prior whose draws fall outside the parameter's constraint (a truncated prior)
// is refused; one whose support is the constraint's is drawn and unconstrained.
BOOST_AUTO_TEST_CASE(constrained_parameters_are_drawn_when_their_prior_respects_the_constraint) {
  auto data = json_source(R"({"N": 2, "x": [1, 2]})");
  Generator truncated(program(R"(data { int<plate> N; vector[N] x; }
parameters { vector<lower=0>[N] s; }
model { s ~ normal(0, 1); x ~ normal(s, 1); }
)"),
                      data);
  truncated.set_phi(std::vector<double>(static_cast<size_t>(truncated.layout().num_phi()), 0.0));
  std::string msg = user_error([&] { truncated.prior(4, 1); });
  BOOST_CHECK_MESSAGE(contains(msg, "draws from its prior normal are not all inside that constraint"), msg);
  // s ~ exponential(2) on <lower=0>: x = s (the mean of normal(s, 1)) has mean 1/2 and variance 1/4.
  Generator exponential(program(R"(data { int<plate> N; vector[N] x; }
parameters { vector<lower=0>[N] s; }
model { s ~ exponential(2); x ~ normal(s, 1); }
)"),
                        data);
  exponential.set_phi(std::vector<double>(static_cast<size_t>(exponential.layout().num_phi()), 0.0));
  exponential.set_output(Output::Means);
  const int64_t n = 20000;
  Generated g = exponential.prior(n, 3);
  auto [mean, var] = moments(g, 0, 0);
  BOOST_CHECK_MESSAGE(std::fabs(mean - 0.5) < 5 * 0.5 / std::sqrt(static_cast<double>(n)), "mean " << mean);
  BOOST_CHECK_MESSAGE(std::fabs(var - 0.25) < 0.05 * 0.25, "variance " << var);
}

BOOST_AUTO_TEST_CASE(row_specs_and_their_errors) {
  auto data = json_source(kLinearData);
  std::vector<DataRow> rows = parse_rows("1-3,train:0,4", "data.json", data, "N");
  std::vector<int64_t> got;
  for (auto& r : rows) got.push_back(r.row);
  BOOST_CHECK((got == std::vector<int64_t>{1, 2, 3, 0, 4}));
  BOOST_CHECK(rows[0].source == data);
  std::string msg = user_error([&] { parse_rows("2-5", "data.json", data, "N"); });
  BOOST_CHECK_MESSAGE(contains(msg, "row 5 is out of range") && contains(msg, "5 rows"), msg);
  msg = user_error([&] { parse_rows("test:0-3", "data.json", data, "N"); });
  BOOST_CHECK_MESSAGE(contains(msg, "'data.json' has no test split"), msg);
  msg = user_error([&] { parse_rows("valid:1", "data.json", data, "N"); });
  BOOST_CHECK_MESSAGE(contains(msg, "unknown split 'valid'"), msg);
  msg = user_error([&] { parse_rows("3-x", "data.json", data, "N"); });
  BOOST_CHECK_MESSAGE(contains(msg, "'x' is not a row number"), msg);
  BOOST_CHECK_EQUAL(test_split_of("fashion-mnist"), "fashion-mnist:test");
  BOOST_CHECK_EQUAL(test_split_of("fashion-mnist:train"), "fashion-mnist:test");
  BOOST_CHECK_EQUAL(test_split_of("data.json"), "");
}

BOOST_AUTO_TEST_CASE(a_fit_of_another_model_is_refused) {
  TempDir dir;
  auto data = json_source(kLinearData);
  auto gen = linear_generator(data);
  std::string other = kLinear;
  other.replace(other.find("dense dec(2, D);"), std::string("dense dec(2, D);").size(), "dense dec(2, D); dense extra(D, D);");
  Generator g2(program(other), data);
  SviFit fit{"test.lat", "data.json", 0, false, std::vector<double>(static_cast<size_t>(gen->layout().num_phi()), 0.0)};
  write_svi_fit(dir.file("x.fit"), fit, gen->layout());
  gen->read_fit(dir.file("x.fit"));
  std::string msg = user_error([&] { g2.read_fit(dir.file("x.fit")); });
  BOOST_CHECK_MESSAGE(contains(msg, "different model"), msg);
  write_text(dir.file("y.fit"), "{}");
  msg = user_error([&] { gen->read_fit(dir.file("y.fit")); });
  BOOST_CHECK_MESSAGE(contains(msg, "not a latent SVI fit"), msg);
  msg = user_error([&] { gen->read_fit(dir.file("missing.fit")); });
  BOOST_CHECK_MESSAGE(contains(msg, "cannot read fit file"), msg);
}

// ---- 6. the command line ------------------------------------------------------------------------------------

namespace {

// An IDX image file (uncompressed): magic 0x00000803, N, H, W big-endian, then the bytes.
void write_idx(const std::string& path, int n, int h, int w, const std::vector<uint8_t>& pixels) {
  std::string s{0, 0, 8, 3};
  for (int v : {n, h, w})
    for (int shift : {24, 16, 8, 0}) s.push_back(static_cast<char>((v >> shift) & 0xff));
  s.append(pixels.begin(), pixels.end());
  write_text(path, s);
}

const char* kImageModel = R"(data {
  int<plate> N;
  int<lower=1> D;
  matrix<lower=0, upper=1>[N, D] x;
}
network { dense dec(2, D); }
parameters { matrix[N, 2] z; }
model {
  to_vector(z) ~ std_normal();
  x ~ bernoulli_logit(dec(z));
}
guide {
  network { dense enc(D, 2); }
  z ~ normal(enc(x), 0.5);
}
)";

struct ImageFixture {
  TempDir dir;
  std::string model, train, test, fit;
  std::vector<uint8_t> train_pixels, test_pixels;
  static constexpr int H = 2, W = 3;
  ImageFixture() {
    model = dir.write("images.lat", kImageModel);
    std::mt19937_64 rng(1);
    for (int i = 0; i < 6 * H * W; ++i) train_pixels.push_back(static_cast<uint8_t>(rng() % 256));
    for (int i = 0; i < 4 * H * W; ++i) test_pixels.push_back(static_cast<uint8_t>(rng() % 256));
    train = dir.file("train-images-idx3-ubyte");
    test = dir.file("t10k-images-idx3-ubyte");
    write_idx(train, 6, H, W, train_pixels);
    write_idx(test, 4, H, W, test_pixels);
    fit = dir.file("images.fit");
    RunResult r = run_latent({"fit", model, "--data", train, "--method", "svi", "--batch", "3", "--epochs", "2",
                              "--output", fit, "-q"},
                             dir);
    BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  }
  RunResult sample(std::vector<std::string> args) {
    args.insert(args.begin(), {"sample", model, "--fit", fit});
    return run_latent(args, dir);
  }
};

void expect_user_error(const RunResult& r, const std::vector<std::string>& parts) {
  BOOST_TEST(r.exited, r);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(!contains(r.err, "internal error"), r);
  for (auto& p : parts) BOOST_TEST(contains(r.err, p), "stderr should mention '" << p << "'\n" << r);
}

// The gray value of pixel (y, x) of grid cell (row, col) for images of H x W.
int cell_pixel(const GrayImage& img, int row, int col, int y, int x, int h, int w) {
  int top = row * (h + kPngGridSeparator), left = col * (w + kPngGridSeparator);
  return img.pixels.at(static_cast<size_t>((top + y) * img.width + left + x));
}

}  // namespace

BOOST_AUTO_TEST_CASE(cli_writes_png_grids_of_samples_reconstructions_and_interpolations) {
  ImageFixture f;
  const int H = ImageFixture::H, W = ImageFixture::W;
  // Prior samples: 5 images of 2 x 3 (the data's H and W) in one row.
  RunResult r = f.sample({"--n", "5", "--png", f.dir.file("s.png"), "--seed", "3"});
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  GrayImage s = read_png_gray(f.dir.file("s.png"));
  BOOST_CHECK_EQUAL(s.height, H);
  BOOST_CHECK_EQUAL(s.width, 5 * W + 4 * kPngGridSeparator);
  r = f.sample({"--n", "20", "--png", f.dir.file("s20.png")});  // 8 columns by default: 3 grid rows
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  s = read_png_gray(f.dir.file("s20.png"));
  BOOST_CHECK_EQUAL(s.height, 3 * H + 2 * kPngGridSeparator);
  BOOST_CHECK_EQUAL(s.width, 8 * W + 7 * kPngGridSeparator);

  // Reconstructions of the test split's 4 images in 3 columns: originals, their
  // reconstructions, the last original (beside blank cells), its reconstruction.
  r = f.sample({"--reconstruct", "test:0-3", "--columns", "3", "--png", f.dir.file("r.png"), "--csv",
                f.dir.file("r.csv"), "--mean"});
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  GrayImage rec = read_png_gray(f.dir.file("r.png"));
  BOOST_CHECK_EQUAL(rec.height, 4 * H + 3 * kPngGridSeparator);
  BOOST_CHECK_EQUAL(rec.width, 3 * W + 2 * kPngGridSeparator);
  auto original = [&](int image, int y, int x) { return static_cast<int>(f.test_pixels.at(static_cast<size_t>(image * H * W + y * W + x))); };
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      for (int c = 0; c < 3; ++c) BOOST_CHECK_EQUAL(cell_pixel(rec, 0, c, y, x, H, W), original(c, y, x));
      BOOST_CHECK_EQUAL(cell_pixel(rec, 2, 0, y, x, H, W), original(3, y, x));
      BOOST_CHECK_EQUAL(cell_pixel(rec, 2, 1, y, x, H, W), kPngGridSeparatorGray);
    }
  // The CSV holds the reconstructions (--mean: pixel intensities): the PNG's cells are their values.
  std::istringstream csv(read_text(f.dir.file("r.csv")));
  std::string line;
  std::getline(csv, line);
  BOOST_CHECK_EQUAL(line, "x.1,x.2,x.3,x.4,x.5,x.6");
  std::vector<std::vector<double>> values;
  while (std::getline(csv, line)) {
    std::vector<double> row;
    std::istringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ',')) row.push_back(std::stod(cell));
    values.push_back(row);
  }
  BOOST_REQUIRE_EQUAL(values.size(), 4u);
  for (int i = 0; i < 4; ++i)
    for (int p = 0; p < H * W; ++p) {
      double v = values[static_cast<size_t>(i)].at(static_cast<size_t>(p));
      BOOST_CHECK(v > 0 && v < 1);
      int row = i < 3 ? 1 : 3, col = i < 3 ? i : 0;
      BOOST_CHECK_EQUAL(cell_pixel(rec, row, col, p / W, p % W, H, W), std::lround(v * 255));
    }

  // Interpolation: one row of --steps images.
  r = f.sample({"--interpolate", "test:0,train:5", "--steps", "4", "--png", f.dir.file("i.png"), "--mean"});
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  GrayImage in = read_png_gray(f.dir.file("i.png"));
  BOOST_CHECK_EQUAL(in.height, H);
  BOOST_CHECK_EQUAL(in.width, 4 * W + 3 * kPngGridSeparator);
  // Its ends are the reconstructions of the two rows (their means: draws would differ).
  r = f.sample({"--reconstruct", "test:0,train:5", "--png", f.dir.file("ends.png"), "--mean"});
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  GrayImage ends = read_png_gray(f.dir.file("ends.png"));
  for (int y = 0; y < H; ++y)
    for (int x = 0; x < W; ++x) {
      BOOST_CHECK_EQUAL(cell_pixel(in, 0, 0, y, x, H, W), cell_pixel(ends, 1, 0, y, x, H, W));
      BOOST_CHECK_EQUAL(cell_pixel(in, 0, 3, y, x, H, W), cell_pixel(ends, 1, 1, y, x, H, W));
    }

  // CSV of prior samples: one row per data point.
  r = f.sample({"--n", "7", "--csv", f.dir.file("s.csv")});
  BOOST_REQUIRE_MESSAGE(r.exited && r.exit_code == 0, r);
  std::string text = read_text(f.dir.file("s.csv"));
  BOOST_CHECK_EQUAL(std::count(text.begin(), text.end(), '\n'), 8);
}

BOOST_AUTO_TEST_CASE(cli_user_errors) {
  ImageFixture f;
  // No fit.
  expect_user_error(run_latent({"sample", f.model, "--n", "4", "--png", f.dir.file("a.png")}, f.dir), {"--fit"});
  expect_user_error(run_latent({"sample", f.model, "--fit", f.dir.file("none.fit"), "--png", f.dir.file("a.png")}, f.dir),
                    {"cannot read fit file", "none.fit"});
  // Rows out of range (the fit's data has 6 rows, its test split 4).
  expect_user_error(f.sample({"--reconstruct", "0-6", "--png", f.dir.file("a.png")}),
                    {"row 6 is out of range", "6 rows"});
  expect_user_error(f.sample({"--reconstruct", "test:2-4", "--png", f.dir.file("a.png")}),
                    {"row 4 is out of range", "t10k-images-idx3-ubyte", "4 rows"});
  // Nothing to write; two modes at once; an interpolation of three rows.
  expect_user_error(f.sample({"--n", "4"}), {"--png", "--csv"});
  expect_user_error(f.sample({"--n", "4", "--reconstruct", "0", "--csv", f.dir.file("a.csv")}),
                    {"one of --n, --reconstruct and --interpolate"});
  expect_user_error(f.sample({"--interpolate", "0,1,2", "--csv", f.dir.file("a.csv")}), {"exactly two rows"});
  // A model whose latent has no prior.
  std::string text = kImageModel;
  text.replace(text.find("to_vector(z) ~ std_normal();"), std::string("to_vector(z) ~ std_normal();").size(), "");
  std::string no_prior = f.dir.write("no_prior.lat", text);
  expect_user_error(run_latent({"sample", no_prior, "--fit", f.fit, "--n", "3", "--png", f.dir.file("a.png")}, f.dir),
                    {"no_prior.lat", "parameter 'z' has no prior to draw from"});
  // JSON data has no test split; images whose size is not a square without H and W.
  std::string json = f.dir.write("d.json", R"({"N": 2, "D": 6, "x": [[0, 0.1, 0.2, 0.3, 0.4, 0.5], [1, 1, 1, 0, 0, 0]]})");
  expect_user_error(f.sample({"--data", json, "--reconstruct", "test:0", "--png", f.dir.file("a.png")}),
                    {"no test split"});
  expect_user_error(f.sample({"--data", json, "--n", "2", "--png", f.dir.file("a.png")}), {"--csv", "not a square"});
  BOOST_CHECK(!std::filesystem::exists(f.dir.file("a.png")));
  BOOST_CHECK(!std::filesystem::exists(f.dir.file("a.csv")));
  // A fit of another model.
  std::string other = f.dir.write("other.lat", std::string(kImageModel).replace(std::string(kImageModel).find("dense dec(2, D);"),
                                                                                 16, "dense dec(2, D); dense more(D, D);"));
  expect_user_error(run_latent({"sample", other, "--fit", f.fit, "--n", "3", "--png", f.dir.file("a.png")}, f.dir),
                    {"different model"});
}
