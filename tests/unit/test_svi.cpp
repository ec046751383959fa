// Deep generative models: network and guide blocks, minibatch SVI
// (compiler/transforms/svi.hpp, runtime/model/svi_model.hpp, runtime/inference/svi.hpp):
//  1. the language: what the checker accepts and the errors it gives;
//  2. the minibatch objective is unbiased: averaged over every batch of the data,
//     its value and gradient equal the full-data ones exactly (noise held fixed
//     per datum), and splitting a batch across workers sums to the batch;
//  3. gradients of every layer and activation against central finite differences;
//  4. the analytic KL against the Monte Carlo estimate (paired draws);
//  5. a guide equal to the exact posterior of a linear-Gaussian model: the ELBO
//     and IWAE both equal the closed-form log evidence;
//  6. the VAE example trains on 300 bundled Fashion-MNIST images (ELBO improves);
//  7. the command line (fit --method svi, eval) and its user errors.
#define BOOST_TEST_MODULE svi
#include "tests/support/svi_fixture.hpp"

#include <map>

#include "compiler/frontend/frontend.hpp"
#include "data/data_source.hpp"
#include "runtime/inference/svi.hpp"
#include "runtime/model/svi_model.hpp"
#include "kernels/eval_context.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <numeric>
#include <random>

using namespace latent;
using namespace latent::testing;

namespace {


std::string check_error(const std::string& text) {
  try {
    program(text);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}


std::vector<double> random_vector(std::mt19937_64& rng, size_t n, double scale) {
  std::normal_distribution<double> normal(0, scale);
  std::vector<double> v(n);
  for (auto& x : v) x = normal(rng);
  return v;
}

// Value and gradient of a compiled objective on the given rows and noise.
struct Evaluation {
  double value;
  std::vector<double> grad;
};

Evaluation evaluate(SviModel& m, const SviModel::Compiled& c, const std::vector<double>& phi,
                    const std::vector<int64_t>& rows, const std::vector<double>& noise) {
  std::vector<double> data, out(1 + phi.size());
  m.gather(c, rows.data(), data);
  EvalContext ctx;
  SviModel::call(c, c.elbo_grad, phi.data(), data.data(), noise.data(), out.data(), &ctx);
  BOOST_REQUIRE_MESSAGE(!ctx.failed, ctx.failure_text());
  return {out[0], std::vector<double>(out.begin() + 1, out.end())};
}

// Central finite differences (step 1e-6) of the objective's value, one per phi[k].
std::vector<double> finite_difference_gradient(SviModel& m, const SviModel::Compiled& c, const std::vector<double>& phi,
                                               const std::vector<int64_t>& rows, const std::vector<double>& noise) {
  std::vector<double> fd(phi.size());
  for (size_t k = 0; k < phi.size(); ++k) {
    const double h = 1e-6;
    std::vector<double> up = phi, down = phi;
    up[k] += h;
    down[k] -= h;
    fd[k] = (evaluate(m, c, up, rows, noise).value - evaluate(m, c, down, rows, noise).value) / (2 * h);
  }
  return fd;
}

// Noise for `rows` of the data, taken from per-datum noise of the whole data set
// (so that a datum sees the same draw in every batch) and global noise.
std::vector<double> noise_for(const SviModel::Compiled& c, const std::vector<int64_t>& rows,
                              const std::vector<std::vector<double>>& per_datum, const std::vector<double>& global) {
  std::vector<double> noise(static_cast<size_t>(c.noise_size()));
  const SviLayout& L = c.objective.layout;
  for (const GuidedParameter& gp : L.guided) {
    BOOST_REQUIRE(gp.plate);
    int64_t k = gp.dims.at(1), b = static_cast<int64_t>(rows.size());
    for (int64_t r = 0; r < b; ++r)
      for (int64_t j = 0; j < k; ++j)
        noise[static_cast<size_t>(gp.noise_offset + j * b + r)] = per_datum[static_cast<size_t>(rows[static_cast<size_t>(r)])][static_cast<size_t>(j)];
  }
  for (const AutoGuided& a : L.automatic)
    for (int64_t i = 0; i < a.size; ++i) noise[static_cast<size_t>(a.noise_offset + i)] = global.at(static_cast<size_t>(i));
  return noise;
}

// A hierarchical model with a global parameter (automatic guide), local latents
// (amortised guide) and a network.
const char* kHierarchical = R"(
data { int<plate> N; matrix[N, 2] x; }
network { dense dec(1, 2); }
parameters { real mu; real<lower=0> tau; matrix[N, 1] z; }
model {
  mu ~ normal(0, 2);
  tau ~ lognormal(0, 1);
  to_vector(z) ~ normal(mu, tau);
  x ~ normal(dec(z), 0.5);
}
guide {
  network { dense enc_mu(2, 1); dense enc_ls(2, 1); }
  z ~ normal(enc_mu(x), exp(enc_ls(x)));
}
)";

const char* kHierarchicalData =
    R"({"N": 6, "x": [[0.3, -1.2], [1.5, 0.4], [-0.7, 2.2], [0.1, 0.9], [2.4, -0.3], [-1.1, -0.8]]})";

}  // namespace

// ---- 1. the language ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(the_vae_example_checks) {
  BOOST_CHECK_NO_THROW(program(read_text(example_dir("vae") + "/vae.lat")));
  BOOST_CHECK_NO_THROW(program(kHierarchical));
}

BOOST_AUTO_TEST_CASE(language_errors_name_the_place) {
  auto expect = [](const std::string& text, const std::string& part) {
    std::string e = check_error(text);
    BOOST_CHECK_MESSAGE(contains(e, part), "expected '" << part << "' in: " << e);
  };
  expect("data { real<plate> N; }", "only an 'int' size can be a plate");
  expect("data { int<plate> N; int<plate> M; }", "a model has one plate");
  expect("network { dense d(2); }", "'dense' takes two sizes");
  expect("network { conv d(2, 3); }", "unknown layer 'conv'");
  expect("model { dense d(2, 3); }", "layers are declared in a 'network' block");
  expect("parameters { real z; } guide { z ~ normal(z, 1); }", "the guide cannot read parameter 'z' here");
  // q(z2 | z1) needs z1 drawn first; a parameter without a guide statement is never drawn by the guide.
  expect("parameters { real z1; real z2; } guide { z2 ~ normal(z1, 1); z1 ~ normal(0, 1); }",
         "the guide cannot read parameter 'z1' here: it reads the data, its network and the parameters it has "
         "already drawn (give 'z1' its ~ statement earlier in the guide)");
  BOOST_TEST(check_error("parameters { real z1; real z2; } guide { z1 ~ normal(0, 1); z2 ~ normal(2 * z1, 1); }").empty());
  expect("parameters { vector[2] z; } guide { for (i in 1:2) z ~ normal(0, 1); }", "is drawn whole here, once per iteration");
  expect("parameters { real z; } guide { z ~ cauchy(0, 1); }", "reparameterised draw (normal, std_normal), not 'cauchy'");
  expect("parameters { real z; } guide { z ~ normal(0, 1); z ~ normal(0, 2); }", "already has a distribution");
  expect("data { int N; } guide { N ~ normal(0, 1); }", "must be a parameter");
  expect("parameters { real z; } guide { network { dense enc(1, 1); } z ~ normal(0, 1); } "
         "generated quantities { row_vector[1] r = enc([1]); }",
         "only visible in the guide");
  expect("network { dense d(2, 4); } model { real y = d(1.0); }", "takes a vector, row_vector or matrix");
  expect("network { dense d(2, 4); } model { target += d; }", "is applied to an argument");
  expect("network { dense d(2, 4); } parameters { real d; }", "already used");
  expect("data { int<plate> N; vector[N] y; } transformed data { real m = mean(y); }",
         "transformed data cannot read 'y': it is indexed by the plate 'N'");
  expect("data { int<plate> N; } transformed data { real n = N; }", "transformed data cannot read 'N': it is the plate");
  expect("data { int<plate> N; vector[N] y; } parameters { real mu; } model { target += N * mu; }",
         "the plate 'N' is the batch size when fitting by minibatches");
  // Sizes, loop bounds, ranges and rep_* sizes are what the plate is for.
  BOOST_CHECK_NO_THROW(program("data { int<plate> N; vector[N] y; } parameters { real mu; } model { "
                               "vector[N] m = rep_vector(mu, N); for (n in 1:N) y[n] ~ normal(m[n], 1); "
                               "y[1:N] ~ normal(mu, 2); }"));
}

BOOST_AUTO_TEST_CASE(layer_input_size_is_checked_when_lowering) {
  auto p = program("data { int<plate> N; matrix[N, 3] x; } network { dense d(2, 4); } "
                   "parameters { real z; } model { z ~ normal(0, 1); target += sum(d(x)); }");
  SviModel m(p, json_source(R"({"N": 2, "x": [[1, 2, 3], [4, 5, 6]]})"));
  try {
    m.compiled(2, {});
    BOOST_FAIL("expected an error");
  } catch (const UserError& e) {
    BOOST_CHECK(contains(e.what(), "test.lat:1:"));
    BOOST_CHECK(contains(e.what(), "layer 'd' takes 2 inputs, but its argument has 3 columns"));
  }
}

// Declared weights start uniform in (-w, w): w = 1 by default, 1/sqrt(fan_in) for
// init=pytorch (nn.Linear's), sqrt(6 / (fan_in + fan_out)) for init=glorot, 0 for
// init=zeros, the number given otherwise; dense layers keep nn.Linear's. With 2000 or
// more draws each, the largest |value| is within 0.5% of w (P(max < 0.995 w) = 0.995^n).
BOOST_AUTO_TEST_CASE(network_weights_start_as_their_initialiser_says) {
  auto p = program(R"(
data { int<plate> N; matrix[N, 40] x; real c; }
network {
  matrix<init=pytorch>[40, 60] A;
  matrix<init=glorot>[40, 60] B;
  array[2] matrix<init=glorot>[40, 60] C;
  row_vector<init=zeros>[60] z;
  matrix<init=c / 4>[40, 60] D;
  matrix[40, 60] E;
  dense d(60, 40);
}
model {
  x ~ normal(d(x * (A + B + C[1] + C[2] + D + E) + rep_matrix(z, N)), 1);
}
)");
  std::string x = "[";
  for (int n = 0; n < 2; ++n) {
    x += n ? ", [" : "[";
    for (int k = 0; k < 40; ++k) x += (k ? ", " : "") + std::to_string(0.01 * k);
    x += "]";
  }
  SviModel m(p, json_source(R"({"N": 2, "c": 2, "x": )" + x + "]}"));
  const SviModel::Compiled& c = m.compiled(2, {});
  std::vector<double> phi = initial_phi(c, 3);
  std::map<std::string, double> expected{{"A", 1 / std::sqrt(40.0)}, {"B", std::sqrt(6.0 / 100)},
                                         {"C", std::sqrt(6.0 / 100)}, {"z", 0},
                                         {"D", 0.5},  {"E", 1},
                                         {"d.weight", 1 / std::sqrt(60.0)}, {"d.bias", 1 / std::sqrt(60.0)}};
  BOOST_REQUIRE_EQUAL(c.lowered.network.size(), expected.size());
  for (const NetworkTensor& t : c.lowered.network) {
    double largest = 0;
    for (int64_t i = 0; i < t.size(); ++i) largest = std::max(largest, std::fabs(phi[static_cast<size_t>(t.offset + i)]));
    double w = expected.at(t.name);
    BOOST_TEST_CONTEXT(t.name) {
      BOOST_TEST(largest <= w);
      if (t.size() >= 2000) BOOST_TEST(largest >= 0.995 * w);
      if (w == 0) BOOST_TEST(largest == 0.0);
    }
  }
}

BOOST_AUTO_TEST_CASE(network_models_are_fitted_by_svi_only) {
  try {
    make_model("network { dense d(1, 1); } parameters { real z; } model { z ~ normal(0, 1); }");
    BOOST_FAIL("expected an error");
  } catch (const UserError& e) {
    BOOST_CHECK(contains(e.what(), "--method svi"));
  }
}

// ---- 2. unbiased minibatches ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(minibatch_objective_is_unbiased_over_all_batches) {
  SviModel m(program(kHierarchical), json_source(kHierarchicalData));
  const int64_t n = 6, b = 2;
  const SviModel::Compiled& full = m.compiled(n, {false, 1.0, 1.0});
  const SviModel::Compiled& batch = m.compiled(b, {false, static_cast<double>(n) / b, 1.0});
  std::mt19937_64 rng(3);
  std::vector<double> phi = random_vector(rng, static_cast<size_t>(full.num_phi()), 0.5);
  std::vector<std::vector<double>> per_datum;
  for (int i = 0; i < n; ++i) per_datum.push_back(random_vector(rng, 1, 1));
  std::vector<double> global = random_vector(rng, 2, 1);  // mu and log tau

  std::vector<int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  Evaluation reference = evaluate(m, full, phi, all, noise_for(full, all, per_datum, global));

  // Every batch of 2 out of 6 (15 of them): each datum is in 5, and N/B = 3, so the
  // average of the scaled batch objectives is exactly the full-data objective.
  double value = 0;
  std::vector<double> grad(phi.size(), 0.0);
  int count = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      std::vector<int64_t> rows{i, j};
      Evaluation e = evaluate(m, batch, phi, rows, noise_for(batch, rows, per_datum, global));
      value += e.value;
      for (size_t k = 0; k < grad.size(); ++k) grad[k] += e.grad[k];
      ++count;
    }
  BOOST_REQUIRE_EQUAL(count, 15);
  BOOST_CHECK_CLOSE(value / count, reference.value, 1e-9);
  for (size_t k = 0; k < grad.size(); ++k)
    BOOST_CHECK_MESSAGE(std::abs(grad[k] / count - reference.grad[k]) <= 1e-9 * (1 + std::abs(reference.grad[k])),
                        "phi[" << k << "]: " << grad[k] / count << " vs " << reference.grad[k]);
}

BOOST_AUTO_TEST_CASE(parts_of_a_batch_sum_to_the_batch) {
  // Two workers each take one row of a batch of two: local terms scaled by N/B,
  // global terms by 1/2 in each part.
  SviModel m(program(kHierarchical), json_source(kHierarchicalData));
  const SviModel::Compiled& batch = m.compiled(2, {false, 3.0, 1.0});
  const SviModel::Compiled& part = m.compiled(1, {false, 3.0, 0.5});
  std::mt19937_64 rng(5);
  std::vector<double> phi = random_vector(rng, static_cast<size_t>(batch.num_phi()), 0.5);
  std::vector<std::vector<double>> per_datum;
  for (int i = 0; i < 6; ++i) per_datum.push_back(random_vector(rng, 1, 1));
  std::vector<double> global = random_vector(rng, 2, 1);
  std::vector<int64_t> rows{4, 1};
  Evaluation whole = evaluate(m, batch, phi, rows, noise_for(batch, rows, per_datum, global));
  Evaluation a = evaluate(m, part, phi, {4}, noise_for(part, {4}, per_datum, global));
  Evaluation c = evaluate(m, part, phi, {1}, noise_for(part, {1}, per_datum, global));
  BOOST_CHECK_CLOSE(a.value + c.value, whole.value, 1e-10);
  for (size_t k = 0; k < phi.size(); ++k)
    BOOST_CHECK_SMALL(a.grad[k] + c.grad[k] - whole.grad[k], 1e-9 * (1 + std::abs(whole.grad[k])));
}

BOOST_AUTO_TEST_CASE(plate_latents_without_a_guide_are_refused) {
  // Whatever the batch (the whole data set included): the automatic guide of a
  // per-datum latent would have learnable values per row of the batch.
  auto p = program("data { int<plate> N; vector[N] y; } parameters { vector[N] z; } "
                   "model { z ~ normal(0, 1); y ~ normal(z, 1); }");
  SviModel m(p, json_source(R"({"N": 4, "y": [1, 2, 3, 4]})"));
  for (int64_t batch : {4, 2}) {
    try {
      m.compiled(batch, {false, 4.0 / static_cast<double>(batch), 1.0});
      BOOST_FAIL("expected an error");
    } catch (const UserError& e) {
      BOOST_CHECK(contains(e.what(), "parameter 'z' is indexed by the plate 'N'"));
    }
  }
}

// ---- 3. gradients of layers and activations ---------------------------------------------------

BOOST_AUTO_TEST_CASE(gradients_of_every_layer_and_activation_match_finite_differences) {
  for (std::string act : {"relu", "tanh", "sigmoid", "softplus", "elu"}) {
    std::string text = R"(
data { int<plate> N; matrix<lower=0, upper=1>[N, 3] x; }
network { dense dec_h(2, 4); dense dec_out(4, 3); }
parameters { matrix[N, 2] z; }
model {
  to_vector(z) ~ std_normal();
  x ~ bernoulli_logit(dec_out(ACT(dec_h(z))));
}
guide {
  network { dense enc_h(3, 4); dense enc_mu(4, 2); dense enc_ls(4, 2); }
  matrix[N, 4] h = ACT(enc_h(x));
  z ~ normal(enc_mu(h), exp(enc_ls(h)));
}
)";
    for (size_t at; (at = text.find("ACT")) != std::string::npos;) text.replace(at, 3, act);
    SviModel m(program(text), json_source(R"({"N": 4, "x": [[0, 0.5, 1], [0.2, 0.9, 0.1], [1, 1, 0], [0.3, 0.3, 0.7]]})"));
    for (bool analytic : {false, true}) {
      const SviModel::Compiled& c = m.compiled(4, {analytic, 2.5, 1.0});
      std::mt19937_64 rng(11);
      std::vector<double> phi = random_vector(rng, static_cast<size_t>(c.num_phi()), 0.7);
      std::vector<double> noise = random_vector(rng, static_cast<size_t>(c.noise_size()), 1);
      std::vector<int64_t> rows{0, 1, 2, 3};
      Evaluation e = evaluate(m, c, phi, rows, noise);
      std::vector<double> fd = finite_difference_gradient(m, c, phi, rows, noise);
      for (size_t k = 0; k < phi.size(); ++k)
        BOOST_CHECK_MESSAGE(std::abs(fd[k] - e.grad[k]) <= 1e-5 * (1 + std::abs(fd[k])),
                            act << (analytic ? " analytic KL" : " MC") << " phi[" << k << "]: gradient "
                                << e.grad[k] << ", finite difference " << fd[k]);
    }
  }
}

// dense(in, out, mask): the objective equals the same layer written by hand with
// W .* mask; the gradient matches finite differences and is 0 for masked weights
// (a MADE layer's forbidden connections never move).
BOOST_AUTO_TEST_CASE(masked_dense_layer) {
  const std::string data = R"({"N": 4, "x": [[0, 0.5, 1], [0.2, 0.9, 0.1], [1, 1, 0], [0.3, 0.3, 0.7]]})";
  const std::string masks = R"(
transformed data {
  matrix[3, 4] M1 = [[1, 0, 1, 0], [1, 1, 0, 0], [0, 1, 1, 1]];
  matrix[4, 3] M2 = [[0, 1, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]];
}
)";
  const std::string head = "data { int<plate> N; matrix<lower=0, upper=1>[N, 3] x; }\n" + masks;
  SviModel masked(program(head + R"(
network { dense h(3, 4, M1); dense out(4, 3, M2); }
model { x ~ bernoulli_logit(out(tanh(h(x)))); }
)"), json_source(data));
  SviModel by_hand(program(head + R"(
network { matrix[3, 4] W1; row_vector[4] b1; matrix[4, 3] W2; row_vector[3] b2; }
model {
  matrix[N, 4] a = tanh(x * (W1 .* M1) + rep_matrix(b1, N));
  x ~ bernoulli_logit(a * (W2 .* M2) + rep_matrix(b2, N));
}
)"), json_source(data));
  const SviModel::Compiled& c = masked.compiled(4, {});
  const SviModel::Compiled& d = by_hand.compiled(4, {});
  BOOST_REQUIRE_EQUAL(c.num_phi(), 31);  // 12 + 4 + 12 + 3, in the same order in both
  BOOST_REQUIRE_EQUAL(d.num_phi(), 31);
  std::mt19937_64 rng(5);
  std::vector<double> phi = random_vector(rng, 31, 0.7);
  std::vector<int64_t> rows{0, 1, 2, 3};
  std::vector<double> noise(static_cast<size_t>(c.noise_size()), 0.0);
  Evaluation e = evaluate(masked, c, phi, rows, noise);
  Evaluation f = evaluate(by_hand, d, phi, rows, noise);
  BOOST_TEST(std::fabs(e.value - f.value) <= 1e-12 * (1 + std::fabs(f.value)));
  // phi: h.weight (3 x 4, column-major as the IR stores matrices), h.bias, out.weight (4 x 3), out.bias
  const double m1[3][4] = {{1, 0, 1, 0}, {1, 1, 0, 0}, {0, 1, 1, 1}};
  const double m2[4][3] = {{0, 1, 1}, {0, 0, 1}, {1, 1, 0}, {0, 1, 0}};
  for (const NetworkTensor& t : c.lowered.network) {
    if (t.name != "h.weight" && t.name != "out.weight") continue;
    bool first = t.name == "h.weight";
    int64_t rows_of = t.dims[0], cols_of = t.dims[1];
    for (int64_t i = 0; i < rows_of; ++i)
      for (int64_t j = 0; j < cols_of; ++j) {
        double allowed = first ? m1[i][j] : m2[i][j];
        size_t k = static_cast<size_t>(t.offset + i + j * rows_of);
        if (allowed == 0) BOOST_TEST(e.grad[k] == 0.0, t.name << "[" << i << ", " << j << "] is masked");
      }
  }
  std::vector<double> fd = finite_difference_gradient(masked, c, phi, rows, noise);
  for (size_t k = 0; k < phi.size(); ++k) {
    BOOST_TEST(std::fabs(fd[k] - e.grad[k]) <= 1e-5 * (1 + std::fabs(fd[k])), "phi[" << k << "]: " << e.grad[k] << " vs " << fd[k]);
    BOOST_TEST(std::fabs(e.grad[k] - f.grad[k]) <= 1e-10 * (1 + std::fabs(f.grad[k])));
  }
}

// --precision mixed (the default of fit --method svi): products of at least
// 2^20 multiply-adds run in float. The generated code keeps masked weights
// (W .* mask, the mask computed where it is read) and the products' results
// that only elementwise code reads in float. The objective and its gradient
// agree with double precision to float accuracy (and differ from it: the
// products did run in float), masked weights keep a zero gradient, and a
// mixed gradient matches finite differences of the double objective.
BOOST_AUTO_TEST_CASE(mixed_precision_products_agree_with_double_precision) {
  const int N = 64, D = 128, H = 128;  // x * W1: 64 x 128 x 128 = 2^20 multiply-adds
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> u(0, 1);
  std::ostringstream data;
  data << "{\"N\": " << N << ", \"D\": " << D << ", \"H\": " << H << ", \"x\": [";
  for (int i = 0; i < N; ++i) {
    data << (i ? "," : "") << "[";
    for (int d = 0; d < D; ++d) data << (d ? "," : "") << (u(rng) < 0.4 ? 1 : 0);
    data << "]";
  }
  data << "]}";
  SviModel m(program(R"(
data { int<plate> N; int D; int H; matrix<lower=0, upper=1>[N, D] x; }
transformed data {
  array[D] int order;
  array[H] int degree;
  for (d in 1:D) order[d] = d;
  for (j in 1:H) degree[j] = 1 + ((j - 1) * (D - 1)) %/% H;
  matrix[H, D] M2 = autoregressive_output_mask(degree, order);
}
network { dense hidden(D, H, autoregressive_mask(order, degree)); dense output(H, D, M2); }
model { x ~ bernoulli_logit(output(tanh(hidden(x)))); }
)"), json_source(data.str()));
  SviOptions in_double, mixed;
  mixed.single_precision_products = true;
  const SviModel::Compiled& d = m.compiled(N, in_double);
  const SviModel::Compiled& f = m.compiled(N, mixed);
  BOOST_REQUIRE_EQUAL(d.num_phi(), f.num_phi());
  std::vector<double> phi = random_vector(rng, static_cast<size_t>(d.num_phi()), 0.1);
  std::vector<int64_t> rows(N);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<double> noise(static_cast<size_t>(d.noise_size()), 0.0);
  Evaluation ed = evaluate(m, d, phi, rows, noise), ef = evaluate(m, f, phi, rows, noise);
  BOOST_TEST(std::fabs(ef.value - ed.value) <= 1e-5 * std::fabs(ed.value), ef.value << " vs " << ed.value);
  double scale = 0, largest_difference = 0;
  for (double g : ed.grad) scale = std::max(scale, std::fabs(g));
  for (size_t k = 0; k < phi.size(); ++k) {
    largest_difference = std::max(largest_difference, std::fabs(ef.grad[k] - ed.grad[k]));
    if (ed.grad[k] == 0.0) BOOST_TEST(ef.grad[k] == 0.0, "phi[" << k << "] is masked: " << ef.grad[k]);
  }
  BOOST_TEST(largest_difference <= 1e-4 * scale, "largest difference " << largest_difference << ", scale " << scale);
  BOOST_TEST_MESSAGE("mixed: largest difference " << largest_difference << ", scale " << scale);
  BOOST_TEST(largest_difference > 0.0, "the products did not run in float");
  // Finite differences of the double objective on a sample of weights of each tensor.
  for (const NetworkTensor& t : d.lowered.network)
    for (int64_t j = 0; j < t.size(); j += std::max<int64_t>(1, t.size() / 7)) {
      size_t k = static_cast<size_t>(t.offset + j);
      std::vector<double> plus = phi, minus = phi;
      const double h = 1e-5;
      plus[k] += h;
      minus[k] -= h;
      double fd = (evaluate(m, d, plus, rows, noise).value - evaluate(m, d, minus, rows, noise).value) / (2 * h);
      BOOST_TEST(std::fabs(ef.grad[k] - fd) <= 1e-4 * scale + 1e-5 * std::fabs(fd),
                 t.name << "[" << j << "]: " << ef.grad[k] << " vs " << fd);
    }
}

// ---- 4. analytic KL --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(analytic_kl_has_the_expectation_of_the_monte_carlo_estimate) {
  SviModel m(program(read_text(example_dir("vae") + "/vae.lat")),
             open_data_source(std::string(LATENT_SOURCE_DIR) + "/tests/data/fashion-mnist-300-images-idx3-ubyte.gz"));
  const SviModel::Compiled& mc = m.compiled(8, {false, 1.0, 1.0});
  const SviModel::Compiled& an = m.compiled(8, {true, 1.0, 1.0});
  std::mt19937_64 rng(2);
  std::vector<double> phi = initial_phi(mc, 4);
  std::vector<int64_t> rows{0, 1, 2, 3, 4, 5, 6, 7};
  // Paired draws: the likelihood term is the same in both; the difference is
  // log p(z) - log q(z) + KL, whose expectation is 0.
  const int draws = 400;
  double sum = 0, sum2 = 0;
  for (int s = 0; s < draws; ++s) {
    std::vector<double> noise = random_vector(rng, static_cast<size_t>(mc.noise_size()), 1);
    double d = evaluate(m, mc, phi, rows, noise).value - evaluate(m, an, phi, rows, noise).value;
    sum += d;
    sum2 += d * d;
  }
  double mean = sum / draws, se = std::sqrt((sum2 / draws - mean * mean) / draws);
  BOOST_TEST_MESSAGE("MC - analytic: " << mean << " +- " << se);
  BOOST_CHECK_GT(se, 0);
  BOOST_CHECK_LT(std::abs(mean), 4 * se);
}

// ---- 5. exact posterior guide ---------------------------------------------------------------

BOOST_AUTO_TEST_CASE(exact_posterior_guide_gives_the_log_evidence) {
  // z_n ~ N(0, 1), x_n | z_n ~ N(z_n, 1): p(x_n) = N(0, 2) and p(z_n | x_n) = N(x_n / 2, 1/2).
  const char* text = R"(
data { int<plate> N; matrix[N, 1] x; }
parameters { matrix[N, 1] z; }
model {
  to_vector(z) ~ std_normal();
  to_vector(x) ~ normal(to_vector(z), 1);
}
guide {
  network { dense loc(1, 1); dense log_scale(1, 1); }
  z ~ normal(loc(x), exp(log_scale(x)));
}
)";
  std::vector<double> x{0.4, -1.3, 2.2, 0.0, 1.1, -0.6, 3.0};
  SviModel m(program(text), json_source(R"({"N": 7, "x": [[0.4], [-1.3], [2.2], [0.0], [1.1], [-0.6], [3.0]]})"));
  const SviModel::Compiled& ref = m.reference();
  std::vector<double> phi(static_cast<size_t>(ref.num_phi()), 0.0);
  for (const NetworkTensor& t : ref.lowered.network) {
    size_t at = static_cast<size_t>(ref.objective.layout.guide_network_offset + t.offset);
    if (t.name == "loc.weight") phi[at] = 0.5;
    if (t.name == "log_scale.bias") phi[at] = 0.5 * std::log(0.5);
  }
  double log_evidence = 0;
  for (double v : x) log_evidence += -0.5 * std::log(2 * M_PI * 2) - v * v / 4;
  // Every importance weight is p(x_n): the ELBO (Monte Carlo KL) and IWAE are exact
  // for any draw. With the analytic KL the ELBO is random; IWAE stays exact.
  for (bool analytic : {false, true}) {
    SviEvaluation e = evaluate_svi(m, phi, analytic, 10, 3, 2, 1);
    BOOST_CHECK_EQUAL(e.rows, 7);
    if (!analytic) BOOST_CHECK_CLOSE(-e.neg_elbo_per_datum, log_evidence / 7, 1e-9);
    BOOST_CHECK_CLOSE(e.iwae_log_likelihood_per_datum, log_evidence / 7, 1e-9);
  }
  // A worse guide: the ELBO drops below the evidence, IWAE lies between.
  phi[static_cast<size_t>(ref.objective.layout.guide_network_offset)] = 0.1;
  SviEvaluation worse = evaluate_svi(m, phi, false, 200, 7, 1, 1);
  BOOST_CHECK_LT(-worse.neg_elbo_per_datum, log_evidence / 7);
  BOOST_CHECK_GT(worse.iwae_log_likelihood_per_datum, -worse.neg_elbo_per_datum);
  BOOST_CHECK_LT(worse.iwae_log_likelihood_per_datum, log_evidence / 7 + 0.02);
}

// ---- 5b. guides that condition on other latents -----------------------------------------------

// z1 ~ N(0, 1), z2 | z1 ~ N(z1, 1), x | z2 ~ N(z2, 1) per datum: p(x) = N(0, 3), and
// the posterior factorises both ways: z1 | x ~ N(x / 3, 2/3), z2 | z1, x ~ N((z1 + x) / 2, 1/2);
// z2 | x ~ N(2x / 3, 2/3), z1 | z2 ~ N(z2 / 2, 1/2). A guide in either order holds it exactly.
const char* kChainModel = R"(
data { int<plate> N; vector[N] x; }
network { real a; real b; real c; real s1; real s2; }
parameters { vector[N] z1; vector[N] z2; }
model {
  z1 ~ std_normal();
  z2 ~ normal(z1, 1);
  x ~ normal(z2, 1);
}
guide {
GUIDE
}
)";
const char* kForwardGuide = "  z1 ~ normal(a * x, exp(s1));\n  z2 ~ normal(b * x + c * z1, exp(s2));";
const char* kBackwardGuide = "  z2 ~ normal(a * x, exp(s2));\n  z1 ~ normal(b * z2 + c * x, exp(s1));";
const char* kChainData = R"({"N": 5, "x": [0.4, -1.3, 2.2, 0.0, 3.1]})";

std::unique_ptr<SviModel> chain_model(const char* guide) {
  std::string text = kChainModel;
  text.replace(text.find("GUIDE"), 5, guide);
  return std::make_unique<SviModel>(program(text), json_source(kChainData));
}

// phi with the guide's coefficients by name.
std::vector<double> chain_phi(const SviModel::Compiled& c, const std::map<std::string, double>& values) {
  std::vector<double> phi(static_cast<size_t>(c.num_phi()), 0.0);
  for (const NetworkTensor& t : c.lowered.network) phi.at(static_cast<size_t>(t.offset)) = values.at(t.name);
  return phi;
}

BOOST_AUTO_TEST_CASE(a_guide_that_reads_earlier_draws_holds_the_exact_posterior) {
  const std::vector<double> x{0.4, -1.3, 2.2, 0.0, 3.1};
  double log_evidence = 0;
  for (double v : x) log_evidence += -0.5 * std::log(2 * M_PI * 3) - v * v / 6;
  const double s_two_thirds = 0.5 * std::log(2.0 / 3), s_half = 0.5 * std::log(0.5);
  struct Case {
    const char* guide;
    std::map<std::string, double> exact;
  };
  for (const Case& k : {Case{kForwardGuide, {{"a", 1.0 / 3}, {"b", 0.5}, {"c", 0.5}, {"s1", s_two_thirds}, {"s2", s_half}}},
                        Case{kBackwardGuide, {{"a", 2.0 / 3}, {"b", 0.5}, {"c", 0}, {"s1", s_half}, {"s2", s_two_thirds}}}}) {
    BOOST_TEST_CONTEXT(k.guide) {
      std::unique_ptr<SviModel> m = chain_model(k.guide);
      std::vector<double> phi = chain_phi(m->reference(), k.exact);
      // Every importance weight is p(x_n) for any draw: the Monte Carlo ELBO and IWAE are exact.
      SviEvaluation e = evaluate_svi(*m, phi, false, 10, 3, 2, 1);
      BOOST_CHECK_CLOSE(-e.neg_elbo_per_datum, log_evidence / 5, 1e-9);
      BOOST_CHECK_CLOSE(e.iwae_log_likelihood_per_datum, log_evidence / 5, 1e-9);
      // Off the posterior (z1's draw ignores z2's, or the reverse): below the evidence.
      std::map<std::string, double> off = k.exact;
      off["c"] = 0.25;
      double elbo = 0;  // averaged over draws: one draw's ELBO is noisy off the posterior
      for (uint64_t seed = 1; seed <= 200; ++seed)
        elbo -= evaluate_svi(*m, chain_phi(m->reference(), off), false, 0, 5, 1, seed).neg_elbo_per_datum / 200;
      BOOST_CHECK_LT(elbo, log_evidence / 5 - 0.01);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_gradient_runs_through_the_chain_of_draws) {
  for (const char* guide : {kForwardGuide, kBackwardGuide})
    for (bool analytic : {false, true}) {
      std::unique_ptr<SviModel> m = chain_model(guide);
      const SviModel::Compiled& c = m->compiled(5, {analytic, 1.0, 1.0});
      std::mt19937_64 rng(5);
      std::vector<double> phi = random_vector(rng, static_cast<size_t>(c.num_phi()), 0.7);
      std::vector<double> noise = random_vector(rng, static_cast<size_t>(c.noise_size()), 1);
      std::vector<int64_t> rows{0, 1, 2, 3, 4};
      Evaluation e = evaluate(*m, c, phi, rows, noise);
      std::vector<double> fd = finite_difference_gradient(*m, c, phi, rows, noise);
      for (size_t k = 0; k < phi.size(); ++k)
        BOOST_CHECK_MESSAGE(std::abs(fd[k] - e.grad[k]) <= 1e-6 * (1 + std::abs(fd[k])),
                            guide << (analytic ? " analytic KL" : " MC") << " phi[" << k << "]: gradient " << e.grad[k]
                                  << ", finite difference " << fd[k]);
    }
}

// The same chain as one array parameter whose elements the guide draws one by
// one (`z[t] ~ ...`, in a loop or not): the exact posterior gives the evidence for
// every draw, and the gradient runs through the pieces.
const char* kArrayChainModel = R"(
data { int<plate> N; vector[N] x; }
network { real a; real b; real c; real s1; real s2; }
parameters { array[2] vector[N] z; }
model {
  z[1] ~ std_normal();
  for (t in 2:2) z[t] ~ normal(z[t - 1], 1);
  x ~ normal(z[2], 1);
}
guide {
  z[1] ~ normal(a * x, exp(s1));
GUIDE
}
)";

BOOST_AUTO_TEST_CASE(a_guide_drawing_an_array_element_by_element_holds_the_exact_posterior) {
  const std::vector<double> x{0.4, -1.3, 2.2, 0.0, 3.1};
  double log_evidence = 0;
  for (double v : x) log_evidence += -0.5 * std::log(2 * M_PI * 3) - v * v / 6;
  const std::map<std::string, double> exact{
      {"a", 1.0 / 3}, {"b", 0.5}, {"c", 0.5}, {"s1", 0.5 * std::log(2.0 / 3)}, {"s2", 0.5 * std::log(0.5)}};
  for (const char* rest : {"  z[2] ~ normal(b * x + c * z[1], exp(s2));",
                           "  for (t in 2:2) z[t] ~ normal(b * x + c * z[t - 1], exp(s2));"}) {
    BOOST_TEST_CONTEXT(rest) {
      std::string text = kArrayChainModel;
      text.replace(text.find("GUIDE"), 5, rest);
      SviModel m(program(text), json_source(kChainData));
      SviEvaluation e = evaluate_svi(m, chain_phi(m.reference(), exact), false, 10, 3, 2, 1);
      BOOST_CHECK_CLOSE(-e.neg_elbo_per_datum, log_evidence / 5, 1e-9);
      BOOST_CHECK_CLOSE(e.iwae_log_likelihood_per_datum, log_evidence / 5, 1e-9);
      const SviModel::Compiled& c = m.compiled(5, {false, 1.0, 1.0});
      std::mt19937_64 rng(5);
      std::vector<double> phi = random_vector(rng, static_cast<size_t>(c.num_phi()), 0.7);
      std::vector<double> noise = random_vector(rng, static_cast<size_t>(c.noise_size()), 1);
      std::vector<int64_t> rows{0, 1, 2, 3, 4};
      Evaluation g = evaluate(m, c, phi, rows, noise);
      std::vector<double> fd = finite_difference_gradient(m, c, phi, rows, noise);
      for (size_t k = 0; k < phi.size(); ++k)
        BOOST_CHECK_MESSAGE(std::abs(fd[k] - g.grad[k]) <= 1e-6 * (1 + std::abs(fd[k])),
                            "phi[" << k << "]: gradient " << g.grad[k] << ", finite difference " << fd[k]);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_closed_form_kl_is_kept_for_priors_independent_of_the_draw) {
  // Forward: both priors are evaluated at earlier draws, KL in closed form for both.
  // Backward: z2's prior N(z1, 1) is evaluated at z1's draw, which depends on z2's:
  // z2 keeps the Monte Carlo estimate (the closed form would be biased: 0.25 nats here).
  for (const char* guide : {kForwardGuide, kBackwardGuide}) {
    std::unique_ptr<SviModel> m = chain_model(guide);
    const SviLayout& L = m->compiled(5, {true, 1.0, 1.0}).objective.layout;
    std::map<std::string, bool> analytic;
    for (const GuidedParameter& gp : L.guided) analytic[gp.name] = gp.analytic_kl;
    BOOST_TEST(analytic.at("z1"));
    BOOST_TEST(analytic.at("z2") == (guide == kForwardGuide), guide);
  }
}

// ---- 6. the VAE trains ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(vae_example_elbo_improves_on_300_images) {
  SviModel m(program(read_text(example_dir("vae") + "/vae.lat")),
             open_data_source(std::string(LATENT_SOURCE_DIR) + "/tests/data/fashion-mnist-300-images-idx3-ubyte.gz"));
  BOOST_CHECK_EQUAL(m.num_rows(), 300);
  std::vector<double> start = initial_phi(m.reference(), 0);
  SviEvaluation before = evaluate_svi(m, start, true, 0, 100, 1, 0);
  SviConfig config;
  config.batch = 50;
  config.epochs = 4;
  config.analytic_kl = true;
  config.threads = 2;
  SviResult r = fit_svi(m, config, start);
  BOOST_REQUIRE_EQUAL(r.epochs.size(), 4u);
  SviEvaluation after = evaluate_svi(m, r.phi, true, 5, 100, 2, 0);
  BOOST_TEST_MESSAGE("neg ELBO per image: before " << before.neg_elbo_per_datum << ", epochs "
                     << r.epochs.front().neg_elbo_per_datum << " .. " << r.epochs.back().neg_elbo_per_datum
                     << ", after " << after.neg_elbo_per_datum << ", IWAE(5) " << after.iwae_log_likelihood_per_datum);
  // Bernoulli likelihood on 784 intensities: an untrained decoder is near 784 log 2 = 543 nats.
  BOOST_CHECK_GT(before.neg_elbo_per_datum, 500);
  BOOST_CHECK_LT(after.neg_elbo_per_datum, before.neg_elbo_per_datum - 100);
  BOOST_CHECK_LT(r.epochs.back().neg_elbo_per_datum, r.epochs.front().neg_elbo_per_datum);
  BOOST_CHECK_GT(after.iwae_log_likelihood_per_datum, -after.neg_elbo_per_datum - 1);
}

// ---- 7. the command line ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(cli_fits_and_evaluates_a_vae) {
  TempDir dir;
  std::string data = std::string(LATENT_SOURCE_DIR) + "/tests/data/fashion-mnist-300-images-idx3-ubyte.gz";
  std::string model = example_dir("vae") + "/vae.lat";
  RunResult fit = run_latent({"fit", model, "--data", data, "--method", "svi", "--batch", "100", "--epochs", "2",
                              "--kl", "analytic", "--threads", "2", "--output", dir.file("vae.fit")},
                             dir);
  BOOST_REQUIRE_MESSAGE(fit.exited && fit.exit_code == 0, fit);
  BOOST_CHECK(contains(fit.err, "epoch 2 train_neg_elbo"));
  BOOST_CHECK(contains(fit.err, "throughput_epochs_2_to_last"));
  RunResult eval = run_latent({"eval", model, "--data", data, "--fit", dir.file("vae.fit"), "--iwae", "3"}, dir);
  BOOST_REQUIRE_MESSAGE(eval.exited && eval.exit_code == 0, eval);
  BOOST_CHECK(contains(eval.out, "data_points 300"));
  BOOST_CHECK(contains(eval.out, "neg_elbo_per_datum "));
  BOOST_CHECK(contains(eval.out, "iwae_log_likelihood_per_datum 3 "));
}

BOOST_AUTO_TEST_CASE(cli_user_errors) {
  TempDir dir;
  auto fails_with = [&](const std::vector<std::string>& args, const std::string& part) {
    RunResult r = run_latent(args, dir);
    BOOST_CHECK_MESSAGE(r.exited && r.exit_code == 1 && contains(r.err, part), "expected '" << part << "': " << r);
  };
  std::string constrained = dir.write("c.lat", R"(data { int<plate> N; vector[N] y; }
parameters { vector<lower=0>[N] s; }
model { y ~ normal(0, s); }
guide { s ~ normal(1, 1); }
)");
  std::string data = dir.write("d.json", R"({"N": 3, "y": [1, 2, 3]})");
  fails_with({"fit", constrained, "--data", data, "--method", "svi", "--batch", "2"},
             "c.lat:4:9: the guide's normal distribution needs an unconstrained parameter");
  std::string vae = example_dir("vae") + "/vae.lat";
  std::string bad = dir.write("bad.json", R"({"N": 2, "D": 2, "x": [[0.5, 0.2], [1.5, 0]]})");
  fails_with({"fit", vae, "--data", bad, "--method", "svi", "--batch", "1", "-q"},
             "field 'x': value 1.5 in row 2 is above its upper bound");
  fails_with({"fit", vae, "--data", bad, "--method", "map"}, "--method svi");
  fails_with({"eval", vae, "--data", data, "--fit", dir.write("x.fit", "{\"format\": \"latent-svi-fit\"}")},
             "not a valid fit file");
  fails_with({"fit", vae, "--data", dir.file("missing.json"), "--method", "svi"}, "missing.json");
}

BOOST_AUTO_TEST_CASE(two_layer_deep_latent_gaussian_model_trains) {
  // examples/dlgm: a prior whose location depends on another latent (analytic KL
  // given the drawn z2) and a guide over two parameters.
  SviModel m(program(read_text(example_dir("dlgm") + "/dlgm.lat")),
             open_data_source(std::string(LATENT_SOURCE_DIR) + "/tests/data/fashion-mnist-300-images-idx3-ubyte.gz"));
  const SviModel::Compiled& c = m.reference();
  BOOST_REQUIRE_EQUAL(c.objective.layout.guided.size(), 2u);
  BOOST_CHECK(c.objective.layout.automatic.empty());
  std::vector<double> start = initial_phi(c, 1);
  SviEvaluation before = evaluate_svi(m, start, true, 0, 100, 1, 0);
  SviConfig config;
  config.batch = 50;
  config.epochs = 4;
  config.analytic_kl = true;
  SviResult r = fit_svi(m, config, start);
  SviEvaluation after = evaluate_svi(m, r.phi, true, 5, 100, 1, 0);
  BOOST_TEST_MESSAGE("DLGM neg ELBO per image: before " << before.neg_elbo_per_datum << ", after "
                     << after.neg_elbo_per_datum << ", IWAE(5) " << after.iwae_log_likelihood_per_datum);
  BOOST_CHECK_LT(after.neg_elbo_per_datum, before.neg_elbo_per_datum - 50);
  BOOST_CHECK_GT(after.iwae_log_likelihood_per_datum, -after.neg_elbo_per_datum - 1);
}
