// Normalizing flows (compiler/lower/flows.cpp): affine coupling layers and the
// flows made of them, against a reference written here in plain C++ from the
// layer's definition:
//  1. f(z) and f_inverse(x) are the reference's maps, and compose to the identity;
//  2. the density of `x ~ f(mu, sigma)` is log N(z | mu, sigma) - log|det J_f(z)|
//     for x = f(z), with J_f by finite differences of the reference map (per
//     data point, through the per-datum log weights of `eval`), and a flow over
//     rows of a matrix equals the same flow over each row_vector;
//  3. its gradient with respect to every weight matches finite differences;
//  4. fitted by `latent fit` to a banana (x2 = x1^2 / 2 + noise), its exact
//     log-likelihood reaches the distribution's entropy and `latent sample`
//     draws points with the distribution's moments.
#define BOOST_TEST_MODULE flows
#include "tests/support/svi_fixture.hpp"

#include "kernels/eval_context.hpp"
#include "runtime/model/svi_model.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

constexpr int kDim = 3, kHidden = 5, kRows = 4;
const double kKeep[3][kDim] = {{1, 0, 1}, {0, 1, 0}, {1, 1, 0}};

std::string flow_model(const std::string& model_block) {
  return "data { int<plate> N; matrix[N, 3] x; matrix[N, 3] z; }\n"
         "transformed data { vector[3] k1 = [1, 0, 1]'; vector[3] k2 = [0, 1, 0]'; vector[3] k3 = [1, 1, 0]'; }\n"
         "network {\n"
         "  affine_coupling c1(3, 5, k1);\n"
         "  affine_coupling c2(3, 5, k2);\n"
         "  affine_coupling c3(3, 5, k3);\n"
         "  flow f(c1, c2);\n"
         "  flow g(f, c3);\n"  // a flow of a flow: c1, c2, c3
         "}\n" +
         model_block;
}

// The reference: each coupling's weights read from phi by their tensor names.
struct Reference {
  struct Dense {
    const double* w;  // {in, out}, column-major
    const double* b;
    int in, out;
    std::vector<double> apply(const std::vector<double>& x) const {
      std::vector<double> y(b, b + out);
      for (int j = 0; j < out; ++j)
        for (int i = 0; i < in; ++i) y[j] += x[i] * w[i + j * in];
      return y;
    }
  };
  struct Coupling {
    const double* keep;
    Dense h1, h2, s, t;
    // log-scale and shift of input u
    void scale_shift(const std::vector<double>& u, std::vector<double>& s_out, std::vector<double>& t_out) const {
      std::vector<double> a(kDim);
      for (int d = 0; d < kDim; ++d) a[d] = u[d] * keep[d];
      auto relu = [](std::vector<double> v) {
        for (double& x : v) x = x > 0 ? x : 0;
        return v;
      };
      std::vector<double> h = relu(h2.apply(relu(h1.apply(a))));
      s_out = s.apply(h);
      t_out = t.apply(h);
      for (int d = 0; d < kDim; ++d) {
        s_out[d] = std::tanh(s_out[d]) * (1 - keep[d]);
        t_out[d] *= 1 - keep[d];
      }
    }
  };
  std::vector<Coupling> layers;

  Reference(const SviModel::Compiled& c, const std::vector<double>& phi) {
    std::map<std::string, const double*> at;
    for (const NetworkTensor& t : c.lowered.network) at[t.name] = phi.data() + t.offset;
    for (int k = 0; k < 3; ++k) {
      std::string n = "c" + std::to_string(k + 1) + ".";
      auto dense = [&](const std::string& part, int in, int out) {
        BOOST_REQUIRE(at.count(n + part + ".weight") && at.count(n + part + ".bias"));
        return Dense{at[n + part + ".weight"], at[n + part + ".bias"], in, out};
      };
      layers.push_back({kKeep[k], dense("hidden1", kDim, kHidden), dense("hidden2", kHidden, kHidden),
                        dense("log_scale", kHidden, kDim), dense("shift", kHidden, kDim)});
    }
  }

  std::vector<double> forward(std::vector<double> u, size_t count) const {
    for (size_t k = 0; k < count; ++k) {
      std::vector<double> s, t;
      layers[k].scale_shift(u, s, t);
      for (int d = 0; d < kDim; ++d) u[d] = u[d] * std::exp(s[d]) + t[d];
    }
    return u;
  }
};

double det3(const double j[3][3]) {
  return j[0][0] * (j[1][1] * j[2][2] - j[1][2] * j[2][1]) - j[0][1] * (j[1][0] * j[2][2] - j[1][2] * j[2][0]) +
         j[0][2] * (j[1][0] * j[2][1] - j[1][1] * j[2][0]);
}

// log|det J| of the reference's first `count` layers at z, by central differences.
double numerical_log_det(const Reference& ref, const std::vector<double>& z, size_t count) {
  double jac[3][3];
  const double h = 1e-6;
  for (int j = 0; j < kDim; ++j) {
    std::vector<double> up = z, down = z;
    up[j] += h;
    down[j] -= h;
    std::vector<double> a = ref.forward(up, count), b = ref.forward(down, count);
    for (int i = 0; i < kDim; ++i) jac[i][j] = (a[i] - b[i]) / (2 * h);
  }
  return std::log(std::fabs(det3(jac)));
}

std::string matrix_json(const std::vector<std::vector<double>>& rows) {
  std::ostringstream s;
  s.precision(17);
  s << "[";
  for (size_t r = 0; r < rows.size(); ++r) {
    s << (r ? "," : "") << "[";
    for (size_t d = 0; d < rows[r].size(); ++d) s << (d ? "," : "") << rows[r][d];
    s << "]";
  }
  return s.str() + "]";
}

struct Fixture {
  std::vector<double> phi;
  std::shared_ptr<Reference> reference;  // its weights point into phi: phi must not move
  std::vector<std::vector<double>> z, x;  // x = g(z) by the reference
  std::string data;
};

std::string zeros_data() {
  std::vector<std::vector<double>> zero(kRows, std::vector<double>(kDim, 0.0));
  return "{\"N\": " + std::to_string(kRows) + ", \"x\": " + matrix_json(zero) + ", \"z\": " + matrix_json(zero) + "}";
}

// Random weights (sd 0.7: the layers are far from the identity), base points z
// and their images x under the reference's three layers. The weights' layout
// (names and offsets in phi) comes from compiling the model on zero data: every
// program here declares the same network.
Fixture make_fixture() {
  SviModel layout(program(flow_model("model { x ~ g(); }\n")), json_source(zeros_data()));
  const SviModel::Compiled& c = layout.compiled(kRows, {});
  Fixture f;
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0, 1);
  f.phi.resize(static_cast<size_t>(c.num_phi()));
  for (double& v : f.phi) v = 0.7 * normal(rng);
  f.reference = std::make_shared<Reference>(c, f.phi);
  for (int r = 0; r < kRows; ++r) {
    std::vector<double> z(kDim);
    for (double& v : z) v = 1.3 * normal(rng);
    f.z.push_back(z);
    f.x.push_back(f.reference->forward(z, 3));
  }
  f.data = "{\"N\": " + std::to_string(kRows) + ", \"x\": " + matrix_json(f.x) + ", \"z\": " + matrix_json(f.z) + "}";
  return f;
}

double evaluate(SviModel& m, const SviModel::Compiled& c, const std::vector<double>& phi, std::vector<double>* grad,
                std::vector<double>* per_datum = nullptr) {
  std::vector<int64_t> rows(kRows);
  for (int r = 0; r < kRows; ++r) rows[static_cast<size_t>(r)] = r;
  std::vector<double> data, noise(static_cast<size_t>(c.noise_size()), 0.0), out(1 + phi.size());
  m.gather(c, rows.data(), data);
  EvalContext ctx;
  SviModel::call(c, c.elbo_grad ? c.elbo_grad : c.elbo, phi.data(), data.data(), noise.data(), out.data(), &ctx);
  BOOST_REQUIRE_MESSAGE(!ctx.failed, ctx.failure_text());
  if (grad) grad->assign(out.begin() + 1, out.end());
  if (per_datum) {
    BOOST_REQUIRE_MESSAGE(c.log_weights, c.objective.log_weights_unavailable);
    per_datum->resize(kRows);
    SviModel::call(c, c.log_weights, phi.data(), data.data(), noise.data(), per_datum->data(), &ctx);
    BOOST_REQUIRE_MESSAGE(!ctx.failed, ctx.failure_text());
  }
  return out[0];
}

const double kLogSqrt2Pi = 0.5 * std::log(2 * M_PI);

}  // namespace

BOOST_AUTO_TEST_CASE(forward_and_inverse_are_the_reference_maps_and_compose_to_the_identity) {
  Fixture f = make_fixture();
  SviModel m(program(flow_model("model {\n"
                                "  target += -dot_self(to_vector(g(z) - x)) - dot_self(to_vector(g_inverse(x) - z));\n"
                                "  target += -dot_self(to_vector(g_inverse(g(z)) - z));\n"
                                "  for (n in 1:N) target += -dot_self(g(z[n]) - x[n]) - dot_self(g_inverse(x[n]) - z[n]);\n"
                                "}\n")),
             json_source(f.data));
  const SviModel::Compiled& c = m.compiled(kRows, {});
  BOOST_REQUIRE_EQUAL(c.num_phi(), static_cast<int64_t>(f.phi.size()));
  double v = evaluate(m, c, f.phi, nullptr);
  BOOST_TEST(std::fabs(v) < 1e-20, "sum of squared differences " << v);
}

BOOST_AUTO_TEST_CASE(density_is_the_base_density_minus_the_log_determinant) {
  Fixture f = make_fixture();
  const Reference& ref = *f.reference;
  const double mu = 0.3, sigma = 1.7;
  std::vector<double> expected(kRows);
  double total = 0;
  for (int r = 0; r < kRows; ++r) {
    double lp = -numerical_log_det(ref, f.z[static_cast<size_t>(r)], 3);
    for (double v : f.z[static_cast<size_t>(r)]) lp += -0.5 * std::pow((v - mu) / sigma, 2) - std::log(sigma) - kLogSqrt2Pi;
    expected[static_cast<size_t>(r)] = lp;
    total += lp;
  }
  for (const char* block : {"model { x ~ g(0.3, 1.7); }\n", "model { for (n in 1:N) x[n] ~ g(0.3, 1.7); }\n",
                            "model { x ~ g(rep_matrix(0.3, N, 3), rep_matrix(1.7, N, 3)); }\n"}) {
    SviModel m(program(flow_model(block)), json_source(f.data));
    const SviModel::Compiled& c = m.compiled(kRows, {}, SviModel::Use::Evaluation);
    std::vector<double> per_datum;
    double v = evaluate(m, c, f.phi, nullptr, &per_datum);
    BOOST_TEST(std::fabs(v - total) < 1e-7 * (1 + std::fabs(total)), block << ": " << v << " vs " << total);
    for (int r = 0; r < kRows; ++r)
      BOOST_TEST(std::fabs(per_datum[static_cast<size_t>(r)] - expected[static_cast<size_t>(r)]) < 1e-7,
                 block << " row " << r << ": " << per_datum[static_cast<size_t>(r)] << " vs "
                       << expected[static_cast<size_t>(r)]);
  }
}

BOOST_AUTO_TEST_CASE(gradient_matches_finite_differences) {
  Fixture f = make_fixture();
  SviModel m(program(flow_model("model { x ~ g(0.3, 1.7); }\n")), json_source(f.data));
  const SviModel::Compiled& c = m.compiled(kRows, {});
  std::vector<double> grad;
  evaluate(m, c, f.phi, &grad);
  for (size_t k = 0; k < f.phi.size(); ++k) {
    const double h = 1e-6;
    std::vector<double> up = f.phi, down = f.phi;
    up[k] += h;
    down[k] -= h;
    double fd = (evaluate(m, c, up, nullptr) - evaluate(m, c, down, nullptr)) / (2 * h);
    BOOST_TEST(std::fabs(fd - grad[k]) <= 1e-5 * (1 + std::fabs(fd)), "phi[" << k << "]: " << grad[k] << " vs " << fd);
  }
}

namespace {

// x1 ~ N(0, 1), x2 = x1^2 / 2 + N(0, 0.5^2): one coupling that keeps x1 holds it
// exactly (shift x1^2 / 2, log-scale log 0.5). Its entropy in nats:
const double kBananaEntropy = 0.5 * std::log(2 * M_PI * M_E) + 0.5 * std::log(2 * M_PI * M_E * 0.25);

std::string banana(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < n; ++i) {
    double x1 = normal(rng);
    rows.push_back({x1, 0.5 * x1 * x1 + 0.5 * normal(rng)});
  }
  return "{\"N\": " + std::to_string(n) + ", \"x\": " + matrix_json(rows) + "}";
}

const char* kBananaModel = R"(
data { int<plate> N; matrix[N, 2] x; }
transformed data { vector[2] keep_x1 = [1, 0]'; }
network { affine_coupling c(2, 32, keep_x1); }
model { x ~ c(); }
)";

}  // namespace

BOOST_AUTO_TEST_CASE(fitted_flow_reaches_the_entropy_and_samples_the_distribution) {
  TempDir dir;
  std::string model = dir.write("banana.lat", kBananaModel);
  std::string train = dir.write("train.json", banana(20000, 1));
  std::string test = dir.write("test.json", banana(5000, 2));
  RunResult fit = run_latent({"fit", model, "--data", train, "--method", "svi", "--batch", "100", "--epochs", "40",
                              "--lr", "0.003", "--threads", "2", "--seed", "1", "--output", dir.file("b.fit"), "-q"},
                             dir);
  BOOST_REQUIRE_MESSAGE(fit.exit_code == 0, fit);
  RunResult eval = run_latent({"eval", model, "--data", test, "--fit", dir.file("b.fit")}, dir);
  BOOST_REQUIRE_MESSAGE(eval.exit_code == 0, eval);
  double ll = NAN;
  std::istringstream lines(eval.out);
  for (std::string key; lines >> key;)
    if (key == "log_likelihood_per_datum") lines >> ll;
  // The test set's own mean of -log p has a standard error of about 0.01.
  BOOST_TEST(std::fabs(ll + kBananaEntropy) < 0.04, "exact test log-likelihood " << ll << ", -entropy " << -kBananaEntropy);

  RunResult sample = run_latent({"sample", model, "--fit", dir.file("b.fit"), "--n", "4000", "--seed", "3", "--csv",
                                 dir.file("s.csv"), "-q"},
                                dir);
  BOOST_REQUIRE_MESSAGE(sample.exit_code == 0, sample);
  std::ifstream csv(dir.file("s.csv"));
  std::string header;
  std::getline(csv, header);
  BOOST_TEST(header == "x.1,x.2");
  double n = 0, m1 = 0, s1 = 0, m2 = 0, s2 = 0;
  for (std::string line; std::getline(csv, line);) {
    double x1, x2;
    char comma;
    std::istringstream(line) >> x1 >> comma >> x2;
    double residual = x2 - 0.5 * x1 * x1;
    n += 1;
    m1 += x1;
    s1 += x1 * x1;
    m2 += residual;
    s2 += residual * residual;
  }
  BOOST_REQUIRE_EQUAL(n, 4000);
  m1 /= n;
  m2 /= n;
  double sd1 = std::sqrt(s1 / n - m1 * m1), sd2 = std::sqrt(s2 / n - m2 * m2);
  BOOST_TEST_MESSAGE("exact test log-likelihood " << ll << "; samples: x1 mean " << m1 << " sd " << sd1
                                                   << ", x2 - x1^2/2 mean " << m2 << " sd " << sd2);
  // Five standard errors of each moment (the flow's own error is far smaller).
  BOOST_TEST(std::fabs(m1) < 5 / std::sqrt(n), "mean of x1 " << m1);
  BOOST_TEST(std::fabs(sd1 - 1) < 5 * 0.71 / std::sqrt(n), "sd of x1 " << sd1);
  BOOST_TEST(std::fabs(m2) < 5 * 0.5 / std::sqrt(n) + 0.02, "mean of x2 - x1^2/2 " << m2);
  BOOST_TEST(std::fabs(sd2 - 0.5) < 5 * 0.35 / std::sqrt(n) + 0.02, "sd of x2 - x1^2/2 " << sd2);

  // A flow has no closed-form mean: --mean is refused with a message.
  RunResult mean = run_latent({"sample", model, "--fit", dir.file("b.fit"), "--n", "4", "--mean", "--csv",
                               dir.file("m.csv")},
                              dir);
  BOOST_TEST(mean.exit_code == 1, mean);
  BOOST_TEST(contains(mean.err, "drawn through a flow"), mean);
  BOOST_TEST(!std::ifstream(dir.file("m.csv")).good(), "no file is written");
}

// examples/realnvp compiles and its objective and gradient are finite at the start.
BOOST_AUTO_TEST_CASE(realnvp_example_compiles) {
  SviModel m(program(read_text(example_dir("realnvp") + "/realnvp.lat")),
             json_source(R"({"N": 4, "x": [[0, 0.5], [1, -0.4], [-0.9, 0.3], [2, 0.4]]})"));
  const SviModel::Compiled& c = m.compiled(4, {});
  BOOST_TEST(c.num_phi() == 6 * (2 * 64 + 64 + 64 * 64 + 64 + 2 * (64 * 2 + 2)));
  std::vector<double> phi = initial_phi(c, 1), grad;
  std::vector<int64_t> rows{0, 1, 2, 3};
  std::vector<double> data, noise(static_cast<size_t>(c.noise_size()), 0.0), out(1 + phi.size());
  m.gather(c, rows.data(), data);
  EvalContext ctx;
  SviModel::call(c, c.elbo_grad, phi.data(), data.data(), noise.data(), out.data(), &ctx);
  BOOST_REQUIRE_MESSAGE(!ctx.failed, ctx.failure_text());
  for (double v : out) BOOST_REQUIRE(std::isfinite(v));
}
