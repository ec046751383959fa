// Whole models through BoundModel: the bundled examples (gradients against
// finite differences), eight schools against a hand-written log density,
// Stan's constraint transforms and their log-Jacobians, constrain/unconstrain
// round trips, loops, recursions, branches, transformed parameters and
// generated quantities, a MAP estimate against its closed form, and user
// errors in data and in models.
#define BOOST_TEST_MODULE models
#include "tests/support/model_fixture.hpp"

#include "kernels/eval_context.hpp"

#include "runtime/optim/lbfgs.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <numeric>
#include <thread>

using namespace latent;
using namespace latent::testing;

namespace {

using Vec = std::vector<double>;

double inv_logit(double x) { return 1 / (1 + std::exp(-x)); }

// Tight L-BFGS settings: the tests compare the mode to closed forms at 1e-6.
LbfgsOptions tight() {
  LbfgsOptions o;
  o.tol_rel_grad = 1e3;
  o.tol_rel_obj = 10;
  o.tol_grad = 1e-10;
  return o;
}

LbfgsResult map_estimate(const BoundModel& m, Vec x0) {
  auto f = [&](const double* x, double* g) { return m.log_density(x, g, false); };
  return maximize_lbfgs(f, std::move(x0), tight());
}

}  // namespace

// ============================================================================================
// Bundled examples
// ============================================================================================

BOOST_AUTO_TEST_SUITE(examples)

BOOST_AUTO_TEST_CASE(gradients_match_finite_differences) {
  for (std::string name : {"eight_schools", "logistic", "kidiq", "linear_regression", "mixture", "ark", "garch"}) {
    BOOST_TEST_CONTEXT("example " << name) {
      std::unique_ptr<BoundModel> m;
      try {
        m = load_example(name);
      } catch (const std::exception& e) {
        BOOST_ERROR("loading failed: " << e.what());
        continue;
      }
      std::mt19937_64 rng(1234);
      int checked = 0;
      for (int attempt = 0; attempt < 20 && checked < 3; ++attempt) {
        Vec theta = random_theta(rng, static_cast<size_t>(m->num_unconstrained()), -1, 1);
        if (!std::isfinite(lp(*m, theta))) continue;  // e.g. outside garch's stationarity region
        ++checked;
        // the value does not depend on whether the gradient is asked for
        for (bool jac : {true, false}) {
          double with_grad = 0;
          gradient(*m, theta, jac, &with_grad);
          BOOST_TEST(close_rel(with_grad, lp(*m, theta, jac), 1e-13), "jacobian=" << jac << ": value with gradient " << with_grad
                                                                  << ", without " << lp(*m, theta, jac));
        }
        check_gradient(*m, theta, true, 1e-6, name + " (jacobian)");
        check_gradient(*m, theta, false, 1e-6, name + " (no jacobian)");
      }
      BOOST_TEST(checked == 3, "only " << checked << " finite points found");
    }
  }
}

BOOST_AUTO_TEST_CASE(eight_schools_log_density_by_hand) {
  auto m = load_example("eight_schools");
  const Vec y{28, 8, -3, 7, -1, 1, 18, 12}, sigma{15, 10, 16, 11, 9, 11, 10, 18};
  BOOST_TEST(m->num_unconstrained() == 10);
  // unconstrained order: theta_tilde[1..8], mu, log(tau)
  auto by_hand = [&](const Vec& u, bool jacobian) {
    double mu = u[8], tau = std::exp(u[9]);
    double lp = -0.5 * (mu / 5) * (mu / 5);         // mu ~ normal(0, 5)
    lp += -std::log1p((tau / 5) * (tau / 5));        // tau ~ cauchy(0, 5)
    for (int j = 0; j < 8; ++j) {
      lp += -0.5 * u[j] * u[j];                      // theta_tilde ~ normal(0, 1)
      double theta = mu + tau * u[j];
      lp += -0.5 * std::pow((y[j] - theta) / sigma[j], 2);  // y ~ normal(theta, sigma)
    }
    if (jacobian) lp += u[9];                        // tau = exp(u): log|dtau/du| = u
    return lp;
  };
  std::mt19937_64 rng(99);
  for (int k = 0; k < 5; ++k) {
    Vec u = random_theta(rng, 10, -2, 2);
    BOOST_TEST(close(lp(*m, u, true), by_hand(u, true), 1e-12), lp(*m, u, true) << " vs " << by_hand(u, true));
    BOOST_TEST(close(lp(*m, u, false), by_hand(u, false), 1e-12));
    // transformed parameter theta = mu + tau * theta_tilde, as theta.1 ... theta.8
    for (int j = 0; j < 8; ++j)
      BOOST_TEST(close(output(*m, u, "theta." + std::to_string(j + 1)), u[8] + std::exp(u[9]) * u[j], 1e-13));
  }
  std::vector<std::string> names = m->output_names();
  BOOST_TEST(names.size() == 18u);
  BOOST_TEST(names.front() == "theta_tilde.1");
  BOOST_TEST(names[8] == "mu");
  BOOST_TEST(names[9] == "tau");
  BOOST_TEST(names[10] == "theta.1");
  BOOST_TEST(names.back() == "theta.8");
}

BOOST_AUTO_TEST_CASE(kidiq_map_is_least_squares) {
  // The MAP with a flat prior on beta (and the cauchy on sigma, jacobian=false)
  // has beta exactly at ordinary least squares.
  auto m = load_example("kidiq");
  auto data = nlohmann::json::parse(read_text(example_dir("kidiq") + "/data.json"));
  Vec x = data["mom_iq"].get<Vec>(), y = data["kid_score"].get<Vec>();
  const double n = static_cast<double>(x.size());
  double mx = std::accumulate(x.begin(), x.end(), 0.0) / n, my = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) sxy += (x[i] - mx) * (y[i] - my), sxx += (x[i] - mx) * (x[i] - mx);
  double b2 = sxy / sxx, b1 = my - b2 * mx;
  LbfgsResult r = map_estimate(*m, {0, 0, 0});
  BOOST_TEST(r.converged, r.message);
  Vec out = m->constrained_outputs(r.x.data());
  BOOST_TEST(close_rel(out[0], b1, 1e-5), out[0] << " vs OLS " << b1);
  BOOST_TEST(close_rel(out[1], b2, 1e-5), out[1] << " vs OLS " << b2);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Constraint transforms: value, log-Jacobian (jacobian=true minus jacobian=false), round trip
// ============================================================================================

BOOST_AUTO_TEST_SUITE(constraints)

namespace {
// Checks, at several unconstrained points, that the outputs are transform(u) and
// that lp(jacobian) - lp(no jacobian) is the log-Jacobian, and the gradients.
void check_transform(const std::string& model, const std::string& data, size_t n,
                     std::function<Vec(const Vec&)> transform, std::function<double(const Vec&)> log_jacobian,
                     std::function<std::string(const Vec&)> init_json = nullptr) {
  BOOST_TEST_CONTEXT(model) {
    auto m = make_model(model, data);
    BOOST_TEST(m->num_unconstrained() == static_cast<int64_t>(n));
    std::mt19937_64 rng(5);
    for (int k = 0; k < 4; ++k) {
      Vec u = random_theta(rng, n, -2, 2);
      Vec want = transform(u);
      Vec out = m->constrained_outputs(u.data());
      BOOST_TEST(out.size() >= want.size());
      for (size_t i = 0; i < want.size() && i < out.size(); ++i)
        BOOST_TEST(close(out[i], want[i], 1e-13), "output " << i << ": " << out[i] << " vs " << want[i]);
      double diff = lp(*m, u, true) - lp(*m, u, false);
      BOOST_TEST(close(diff, log_jacobian(u), 1e-11), "log-Jacobian " << diff << " vs " << log_jacobian(u));
      check_gradient(*m, u, true, 1e-6, "jacobian");
      check_gradient(*m, u, false, 1e-6, "no jacobian");
      if (init_json) {  // unconstrain(constrain(u)) == u
        std::mt19937_64 r2(1);
        Vec back = m->unconstrain(DataSet::from_json_string(init_json(want), "init.json"), r2);
        BOOST_TEST(back.size() == u.size());
        for (size_t i = 0; i < u.size() && i < back.size(); ++i)
          BOOST_TEST(close(back[i], u[i], 1e-9), "round trip " << i << ": " << back[i] << " vs " << u[i]);
      }
    }
  }
}

std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}
}  // namespace

BOOST_AUTO_TEST_CASE(lower) {
  check_transform(
      "parameters { real<lower=1.5> a; } model { a ~ normal(0, 3); }", "{}", 1,
      [](const Vec& u) { return Vec{1.5 + std::exp(u[0])}; }, [](const Vec& u) { return u[0]; },
      [](const Vec& x) { return "{\"a\": " + num(x[0]) + "}"; });
  // a vector with a data lower bound
  check_transform(
      "data { real L; } parameters { vector<lower=L>[3] v; } model { v ~ normal(0, 3); }", "{\"L\": -1}", 3,
      [](const Vec& u) { return Vec{-1 + std::exp(u[0]), -1 + std::exp(u[1]), -1 + std::exp(u[2])}; },
      [](const Vec& u) { return u[0] + u[1] + u[2]; },
      [](const Vec& x) { return "{\"v\": [" + num(x[0]) + ", " + num(x[1]) + ", " + num(x[2]) + "]}"; });
}

BOOST_AUTO_TEST_CASE(upper) {
  check_transform(
      "parameters { real<upper=2> a; } model { a ~ normal(0, 3); }", "{}", 1,
      [](const Vec& u) { return Vec{2 - std::exp(u[0])}; }, [](const Vec& u) { return u[0]; },
      [](const Vec& x) { return "{\"a\": " + num(x[0]) + "}"; });
}

BOOST_AUTO_TEST_CASE(lower_upper) {
  // x = L + (U - L) inv_logit(u); log J = log(U - L) + log inv_logit(u) + log(1 - inv_logit(u))
  auto lj = [](double u, double w) { return std::log(w) + std::log(inv_logit(u)) + std::log1p(-inv_logit(u)); };
  check_transform(
      "parameters { real<lower=-1, upper=3> a; } model { a ~ normal(0, 3); }", "{}", 1,
      [](const Vec& u) { return Vec{-1 + 4 * inv_logit(u[0])}; }, [&](const Vec& u) { return lj(u[0], 4); },
      [](const Vec& x) { return "{\"a\": " + num(x[0]) + "}"; });
  check_transform(
      "parameters { array[2] real<lower=0, upper=1> p; } model { p ~ beta(2, 3); }", "{}", 2,
      [](const Vec& u) { return Vec{inv_logit(u[0]), inv_logit(u[1])}; },
      [&](const Vec& u) { return lj(u[0], 1) + lj(u[1], 1); },
      [](const Vec& x) { return "{\"p\": [" + num(x[0]) + ", " + num(x[1]) + "]}"; });
  // vector with scalar bounds of width 2: log(2) per element
  check_transform(
      "parameters { vector<lower=-1, upper=1>[2] r; } model { r ~ normal(0, 1); }", "{}", 2,
      [](const Vec& u) { return Vec{-1 + 2 * inv_logit(u[0]), -1 + 2 * inv_logit(u[1])}; },
      [&](const Vec& u) { return lj(u[0], 2) + lj(u[1], 2); },
      [](const Vec& x) { return "{\"r\": [" + num(x[0]) + ", " + num(x[1]) + "]}"; });
}

BOOST_AUTO_TEST_CASE(parameter_dependent_bounds) {
  // garch-style: b in (0, 1 - a), a in (0, 1)
  check_transform(
      "parameters { real<lower=0, upper=1> a; real<lower=0, upper=(1 - a)> b; } model { a ~ beta(2, 2); b ~ beta(2, 2); }",
      "{}", 2,
      [](const Vec& u) {
        double a = inv_logit(u[0]);
        return Vec{a, (1 - a) * inv_logit(u[1])};
      },
      [](const Vec& u) {
        double a = inv_logit(u[0]);
        return std::log(a) + std::log1p(-a) + std::log(1 - a) + std::log(inv_logit(u[1])) +
               std::log1p(-inv_logit(u[1]));
      });
  check_transform(
      "parameters { real m; real<lower=m> x; } model { m ~ normal(0, 1); x ~ normal(0, 2); }", "{}", 2,
      [](const Vec& u) { return Vec{u[0], u[0] + std::exp(u[1])}; }, [](const Vec& u) { return u[1]; });
}

BOOST_AUTO_TEST_CASE(offset_multiplier) {
  check_transform(
      "parameters { real<offset=1, multiplier=2> a; } model { a ~ normal(1, 2); }", "{}", 1,
      [](const Vec& u) { return Vec{1 + 2 * u[0]}; }, [](const Vec&) { return std::log(2.0); },
      [](const Vec& x) { return "{\"a\": " + num(x[0]) + "}"; });
  check_transform(
      "parameters { vector<offset=-1, multiplier=0.5>[3] v; } model { v ~ normal(-1, 0.5); }", "{}", 3,
      [](const Vec& u) { return Vec{-1 + 0.5 * u[0], -1 + 0.5 * u[1], -1 + 0.5 * u[2]}; },
      [](const Vec&) { return 3 * std::log(0.5); },
      [](const Vec& x) { return "{\"v\": [" + num(x[0]) + ", " + num(x[1]) + ", " + num(x[2]) + "]}"; });
  // multiplier only (offset 0)
  check_transform(
      "parameters { real<multiplier=3> a; } model { a ~ normal(0, 3); }", "{}", 1,
      [](const Vec& u) { return Vec{3 * u[0]}; }, [](const Vec&) { return std::log(3.0); },
      [](const Vec& x) { return "{\"a\": " + num(x[0]) + "}"; });
}

namespace {
// Stan's stick-breaking simplex transform (K - 1 unconstrained values), and its log-Jacobian.
Vec simplex(const Vec& y, double* log_j) {
  size_t K = y.size() + 1;
  Vec x;
  double stick = 1, lj = 0;
  for (size_t k = 0; k + 1 < K; ++k) {
    double adj = y[k] - std::log(static_cast<double>(K - 1 - k));
    double z = inv_logit(adj);
    x.push_back(stick * z);
    lj += std::log(stick) + std::log(z) + std::log1p(-z);
    stick -= x.back();
  }
  x.push_back(stick);
  if (log_j) *log_j = lj;
  return x;
}
}  // namespace

BOOST_AUTO_TEST_CASE(simplex_transform) {
  check_transform(
      "data { vector[4] c; } parameters { simplex[4] s; } model { target += sum(c .* log(s)); }",
      "{\"c\": [1, 2, 0.5, 3]}", 3, [](const Vec& u) { return simplex(u, nullptr); },
      [](const Vec& u) {
        double lj = 0;
        simplex(u, &lj);
        return lj;
      },
      [](const Vec& x) {
        return "{\"s\": [" + num(x[0]) + ", " + num(x[1]) + ", " + num(x[2]) + ", " + num(x[3]) + "]}";
      });
  // u = 0 is the centre: the uniform simplex
  auto m = make_model("parameters { simplex[4] s; } model { }");
  Vec out = m->constrained_outputs(Vec{0, 0, 0}.data());
  for (double v : out) BOOST_TEST(close(v, 0.25, 1e-15));
  // outputs sum to one and are positive anywhere
  std::mt19937_64 rng(3);
  for (int k = 0; k < 5; ++k) {
    Vec u = random_theta(rng, 3, -5, 5);
    Vec s = m->constrained_outputs(u.data());
    BOOST_TEST(close(std::accumulate(s.begin(), s.end(), 0.0), 1.0, 1e-14));
    for (double v : s) BOOST_TEST(v > 0);
  }
}

BOOST_AUTO_TEST_CASE(ordered_transforms) {
  // Stan's: x_1 = u_1 (positive_ordered: exp(u_1)), x_k = x_{k-1} + exp(u_k); log J = sum of the exponentiated u.
  auto ordered = [](const Vec& u, bool positive) {
    Vec x;
    for (size_t k = 0; k < u.size(); ++k) {
      double step = k > 0 || positive ? std::exp(u[k]) : u[k];
      x.push_back(k == 0 ? step : x.back() + step);
    }
    return x;
  };
  auto to_json = [](const std::string& name, const Vec& x) {
    std::string s = "{\"" + name + "\": [";
    for (size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + num(x[i]);
    return s + "]}";
  };
  check_transform(
      "parameters { ordered[3] a; } model { a ~ normal(0, 3); }", "{}", 3,
      [&](const Vec& u) { return ordered(u, false); }, [](const Vec& u) { return u[1] + u[2]; },
      [&](const Vec& x) { return to_json("a", x); });
  check_transform(
      "parameters { positive_ordered[3] b; } model { b ~ exponential(1); }", "{}", 3,
      [&](const Vec& u) { return ordered(u, true); }, [](const Vec& u) { return u[0] + u[1] + u[2]; },
      [&](const Vec& x) { return to_json("b", x); });
  // An array of ordered vectors: each vector on its own.
  auto m = make_model("parameters { array[2] ordered[2] c; } model { }");
  Vec out = m->constrained_outputs(Vec{1, 0, -1, 0.5}.data());
  std::vector<std::string> names = m->output_names();
  BOOST_TEST(names == (std::vector<std::string>{"c.1.1", "c.2.1", "c.1.2", "c.2.2"}), boost::test_tools::per_element());
  BOOST_TEST(close(out[0], 1, 1e-15));                       // c[1][1]
  BOOST_TEST(close(out[2], 1 + std::exp(0.0), 1e-15));       // c[1][2]
  BOOST_TEST(close(out[1], -1, 1e-15));                      // c[2][1]
  BOOST_TEST(close(out[3], -1 + std::exp(0.5), 1e-15));      // c[2][2]
  // Values that are not increasing are rejected, naming the element.
  auto o = make_model("parameters { ordered[3] a; } model { }");
  std::mt19937_64 rng(0);
  std::string msg = user_error([&] { o->unconstrain(DataSet::from_json_string(R"({"a": [1, 3, 2]})", "init.json"), rng); });
  BOOST_TEST(contains(msg, "strictly increasing"), msg);
  msg = user_error([] { make_model("data { positive_ordered[2] d; } parameters { real x; } model { }", R"({"d": [0, 1]})"); });
  BOOST_TEST(contains(msg, "a positive_ordered vector must be positive"), msg);
  msg = user_error([] { make_model("data { array[2] ordered[2] d; } parameters { real x; } model { }", R"({"d": [[0, 1], [2, 2]]})"); });
  BOOST_TEST(contains(msg, "must be strictly increasing, but entry 2 is 2 after 2 (element [2] of the array)"), msg);
}

BOOST_AUTO_TEST_CASE(mixed_parameters_stan_order) {
  // Unconstrained order is declaration order; a matrix is column-major.
  auto m = make_model(
      "parameters { real<lower=0> s; matrix[2, 2] A; simplex[3] p; vector<lower=-1, upper=1>[2] r; }\n"
      "model { s ~ exponential(1); to_vector(A) ~ normal(0, 1); r ~ normal(0, 1); }");
  BOOST_TEST(m->num_unconstrained() == 1 + 4 + 2 + 2);
  Vec u{0.3, 1, 2, 3, 4, 0.1, -0.2, 0.5, -0.5};
  std::vector<std::string> names = m->output_names();
  std::vector<std::string> want{"s", "A.1.1", "A.2.1", "A.1.2", "A.2.2", "p.1", "p.2", "p.3", "r.1", "r.2"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
  Vec out = m->constrained_outputs(u.data());
  Vec p = simplex({0.1, -0.2}, nullptr);
  Vec expect{std::exp(0.3), 1, 2, 3, 4, p[0], p[1], p[2], -1 + 2 * inv_logit(0.5), -1 + 2 * inv_logit(-0.5)};
  BOOST_TEST(out.size() == expect.size());
  for (size_t i = 0; i < expect.size() && i < out.size(); ++i)
    BOOST_TEST(close(out[i], expect[i], 1e-14), names[i] << ": " << out[i] << " vs " << expect[i]);
  // round trip from named constrained values (the matrix in JSON is row by row)
  std::string init = "{\"s\": " + num(std::exp(0.3)) + ", \"A\": [[1, 3], [2, 4]], \"p\": [" + num(p[0]) + ", " +
                     num(p[1]) + ", " + num(p[2]) + "], \"r\": [" + num(expect[8]) + ", " + num(expect[9]) + "]}";
  std::mt19937_64 rng(0);
  Vec back = m->unconstrain(DataSet::from_json_string(init, "init.json"), rng);
  BOOST_TEST(back.size() == u.size());
  for (size_t i = 0; i < u.size() && i < back.size(); ++i) BOOST_TEST(close(back[i], u[i], 1e-9), i);
}

BOOST_AUTO_TEST_CASE(unconstrain_rejects_values_outside_the_constraint) {
  auto m = make_model("parameters { real<lower=0> s; simplex[3] p; } model { s ~ exponential(1); }");
  std::mt19937_64 rng(0);
  std::string a = user_error([&] { m->unconstrain(DataSet::from_json_string("{\"s\": -1}", "init.json"), rng); });
  BOOST_TEST(contains(a, "'s'"), a);
  BOOST_TEST(contains(a, "init.json"), a);
  std::string b = user_error(
      [&] { m->unconstrain(DataSet::from_json_string("{\"p\": [0.5, 0.6, 0.1]}", "init.json"), rng); });
  BOOST_TEST(contains(b, "'p'"), b);
  std::string c =
      user_error([&] { m->unconstrain(DataSet::from_json_string("{\"p\": [0.5, 0.5]}", "init.json"), rng); });
  BOOST_TEST(contains(c, "p"), c);
}

BOOST_AUTO_TEST_CASE(unconstrain_with_parameter_dependent_bound) {
  // CmdStan accepts inits for parameters whose bounds depend on other parameters
  // (garch's beta1 < 1 - alpha1).
  auto m = make_model("parameters { real<lower=0, upper=1> a; real<lower=0, upper=(1 - a)> b; } model { }");
  std::mt19937_64 rng(0);
  Vec u;
  try {
    u = m->unconstrain(DataSet::from_json_string("{\"a\": 0.25, \"b\": 0.5}", "init.json"), rng);
  } catch (const std::exception& e) {
    BOOST_ERROR("unconstrain failed: " << e.what());
    return;
  }
  Vec out = m->constrained_outputs(u.data());
  BOOST_TEST(close(out[0], 0.25, 1e-12));
  BOOST_TEST(close(out[1], 0.5, 1e-12));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Statements: loops, recursions, branches, while, transformed parameters, generated quantities
// ============================================================================================

BOOST_AUTO_TEST_SUITE(statements)

const std::string kData = "{\"N\": 5, \"y\": [0.3, -1.2, 2.5, 0.8, 1.1], \"flag\": 1}";
const Vec kY{0.3, -1.2, 2.5, 0.8, 1.1};

BOOST_AUTO_TEST_CASE(loop_equals_vectorised) {
  const std::string head = "data { int N; vector[N] y; } parameters { real mu; real<lower=0> sigma; }\n";
  auto loop = make_model(head + "model { for (n in 1:N) y[n] ~ normal(mu, sigma); mu ~ normal(0, 10); }", kData);
  auto vec = make_model(head + "model { y ~ normal(mu, sigma); mu ~ normal(0, 10); }", kData);
  auto lpdf_loop = make_model(
      head + "model { for (n in 1:N) target += normal_lpdf(y[n] | mu, sigma); mu ~ normal(0, 10); }", kData);
  std::mt19937_64 rng(11);
  for (int k = 0; k < 4; ++k) {
    Vec u = random_theta(rng, 2, -1, 1);
    double a = 0, b = 0, c = 0;
    Vec ga = gradient(*loop, u, true, &a), gb = gradient(*vec, u, true, &b), gc = gradient(*lpdf_loop, u, true, &c);
    BOOST_TEST(close(a, b, 1e-12), a << " vs " << b);
    for (int i = 0; i < 2; ++i) BOOST_TEST(close(ga[i], gb[i], 1e-11));
    // by hand
    double mu = u[0], s = std::exp(u[1]), want = -0.5 * (mu / 10) * (mu / 10) + u[1];
    for (double y : kY) want += -std::log(s) - 0.5 * std::pow((y - mu) / s, 2);
    BOOST_TEST(close(a, want, 1e-12), a << " vs " << want);
    BOOST_TEST(close(c, want - 5 * 0.5 * std::log(2 * M_PI), 1e-12));
    check_gradient(*loop, u);
  }
}

BOOST_AUTO_TEST_CASE(recursion_with_carried_state) {
  // x[1] = y[1]; x[t] = a * x[t-1] + y[t]; target += normal_lpdf(x | 0, s)
  const std::string model =
      "data { int N; vector[N] y; }\n"
      "parameters { real a; real<lower=0> s; }\n"
      "model {\n"
      "  vector[N] x;\n"
      "  x[1] = y[1];\n"
      "  for (t in 2:N) x[t] = a * x[t - 1] + y[t];\n"
      "  target += normal_lpdf(x | 0, s);\n"
      "}";
  auto m = make_model(model, kData);
  std::mt19937_64 rng(13);
  for (int k = 0; k < 4; ++k) {
    Vec u = random_theta(rng, 2, -1, 1);
    double a = u[0], s = std::exp(u[1]), x = kY[0];
    double want = u[1] - std::log(s) - 0.5 * std::log(2 * M_PI) - 0.5 * (x / s) * (x / s);
    for (size_t t = 1; t < kY.size(); ++t) {
      x = a * x + kY[t];
      want += -std::log(s) - 0.5 * std::log(2 * M_PI) - 0.5 * (x / s) * (x / s);
    }
    BOOST_TEST(close(lp(*m, u), want, 1e-12), lp(*m, u) << " vs " << want);
    check_gradient(*m, u);
  }
}

BOOST_AUTO_TEST_CASE(scalar_recursion_and_nested_loops) {
  // A scalar carried through a loop, and a nested loop over a matrix.
  const std::string model =
      "data { int N; vector[N] y; }\n"
      "parameters { real a; matrix[2, 3] B; }\n"
      "model {\n"
      "  real acc = 0;\n"
      "  real h = 1;\n"
      "  for (t in 1:N) { h = tanh(a * h + y[t]); acc += h * h; }\n"
      "  target += -acc;\n"
      "  for (i in 1:2) for (j in 1:3) target += -0.5 * square(B[i, j] - i * j);\n"
      "}";
  auto m = make_model(model, kData);
  std::mt19937_64 rng(17);
  for (int k = 0; k < 3; ++k) {
    Vec u = random_theta(rng, 7, -1, 1);
    double h = 1, acc = 0;
    for (double y : kY) {
      h = std::tanh(u[0] * h + y);
      acc += h * h;
    }
    double want = -acc;
    for (int i = 1; i <= 2; ++i)
      for (int j = 1; j <= 3; ++j) want += -0.5 * std::pow(u[1 + (j - 1) * 2 + (i - 1)] - i * j, 2);
    BOOST_TEST(close(lp(*m, u), want, 1e-12), lp(*m, u) << " vs " << want);
    check_gradient(*m, u);
  }
}

BOOST_AUTO_TEST_CASE(if_on_data) {
  const std::string model =
      "data { int N; vector[N] y; int flag; } parameters { real mu; }\n"
      "model {\n"
      "  if (flag == 1) y ~ normal(mu, 1);\n"
      "  else y ~ cauchy(mu, 1);\n"
      "  for (n in 1:N) { if (y[n] > 1) target += -mu * mu; else if (y[n] < 0) target += mu; }\n"
      "}";
  for (int flag : {0, 1}) {
    std::string data = "{\"N\": 5, \"y\": [0.3, -1.2, 2.5, 0.8, 1.1], \"flag\": " + std::to_string(flag) + "}";
    auto m = make_model(model, data);
    for (double mu : {-0.7, 0.4, 1.9}) {
      double want = 0;
      for (double y : kY) want += flag == 1 ? -0.5 * (y - mu) * (y - mu) : -std::log1p((y - mu) * (y - mu));
      for (double y : kY) want += y > 1 ? -mu * mu : y < 0 ? mu : 0;
      BOOST_TEST(close(lp(*m, {mu}), want, 1e-12), "flag " << flag << " mu " << mu << ": " << lp(*m, {mu}) << " vs "
                                                          << want);
      check_gradient(*m, {mu});
    }
  }
}

BOOST_AUTO_TEST_CASE(if_on_parameters) {
  // A piecewise density: the branch is taken per evaluation.
  auto m = make_model(
      "parameters { real x; }\n"
      "model {\n"
      "  if (x > 0) target += -x;\n"
      "  else target += -x * x;\n"
      "  if (x > 1 && x < 2) target += log(x);\n"
      "}");
  for (double x : {-1.5, -0.2, 0.3, 1.5, 2.5}) {
    double want = (x > 0 ? -x : -x * x) + (x > 1 && x < 2 ? std::log(x) : 0);
    BOOST_TEST(close(lp(*m, {x}), want, 1e-14), x << ": " << lp(*m, {x}) << " vs " << want);
    check_gradient(*m, {x});
  }
  // a local variable assigned in branches on a parameter
  auto l = make_model(
      "parameters { real x; }\n"
      "model { real z; if (x < 0) z = exp(x); else z = 1 + x; target += log(z) * 2; }");
  for (double x : {-1.0, 0.5}) {
    double z = x < 0 ? std::exp(x) : 1 + x;
    BOOST_TEST(close(lp(*l, {x}), 2 * std::log(z), 1e-14));
    check_gradient(*l, {x});
  }
}

BOOST_AUTO_TEST_CASE(while_on_data) {
  auto m = make_model(
      "data { int N; vector[N] y; }\n"
      "transformed data { int K = 0; while (K * K < 10) K += 1; }\n"  // K = 4
      "parameters { real mu; }\n"
      "model {\n"
      "  int n = 1;\n"
      "  while (n <= K) { target += -0.5 * square(y[n] - mu); n += 1; }\n"
      "}",
      kData);
  for (double mu : {-0.5, 0.7}) {
    double want = 0;
    for (int n = 0; n < 4; ++n) want += -0.5 * (kY[n] - mu) * (kY[n] - mu);
    BOOST_TEST(close(lp(*m, {mu}), want, 1e-13), lp(*m, {mu}) << " vs " << want);
    check_gradient(*m, {mu});
  }
}

BOOST_AUTO_TEST_CASE(transformed_parameters_and_generated_quantities) {
  auto m = make_model(
      "data { int N; vector[N] y; }\n"
      "parameters { real mu; real<lower=0> sigma; }\n"
      "transformed parameters {\n"
      "  vector[N] z = (y - mu) / sigma;\n"
      "  matrix[2, 3] M;\n"
      "  for (i in 1:2) for (j in 1:3) M[i, j] = 10 * i + j + mu;\n"
      "}\n"
      "model { y ~ normal(mu, sigma); }\n"
      "generated quantities {\n"
      "  real s2 = square(sigma);\n"
      "  int above = 0;\n"
      "  for (n in 1:N) above += y[n] > mu;\n"
      "  array[2] vector[3] w;\n"
      "  for (i in 1:2) for (j in 1:3) w[i][j] = 100 * i + j;\n"
      "}",
      kData);
  Vec u{0.5, std::log(2.0)};
  std::vector<std::string> names = m->output_names();
  std::vector<std::string> head{"mu", "sigma", "z.1", "z.2", "z.3", "z.4", "z.5",
                                "M.1.1", "M.2.1", "M.1.2", "M.2.2", "M.1.3", "M.2.3", "s2", "above"};
  BOOST_TEST(names.size() == head.size() + 6);
  for (size_t i = 0; i < head.size() && i < names.size(); ++i) BOOST_TEST(names[i] == head[i]);
  BOOST_TEST(close(output(*m, u, "sigma"), 2.0, 1e-15));
  for (int n = 0; n < 5; ++n)
    BOOST_TEST(close(output(*m, u, "z." + std::to_string(n + 1)), (kY[n] - 0.5) / 2, 1e-15));
  for (int i = 1; i <= 2; ++i)
    for (int j = 1; j <= 3; ++j)
      BOOST_TEST(output(*m, u, "M." + std::to_string(i) + "." + std::to_string(j)) == 10 * i + j + 0.5);
  BOOST_TEST(close(output(*m, u, "s2"), 4.0, 1e-15));
  BOOST_TEST(output(*m, u, "above") == 3.0);
  // every element of an array of vectors is reachable by its CmdStan name, with its value
  for (int i = 1; i <= 2; ++i)
    for (int j = 1; j <= 3; ++j)
      BOOST_TEST(output(*m, u, "w." + std::to_string(i) + "." + std::to_string(j)) == 100 * i + j);
}

BOOST_AUTO_TEST_CASE(cmdstan_column_order_for_arrays) {
  // CmdStan writes every container in column-major order, arrays included
  // (CmdStan guide, "Stan CSV File Format": "Container variables are serialized
  // in column major order"): array[2] vector[3] w -> w.1.1, w.2.1, w.1.2, ...
  auto m = make_model(
      "parameters { real x; } model { x ~ normal(0, 1); }\n"
      "generated quantities { array[2] vector[3] w; array[2, 2] real a;\n"
      "  for (i in 1:2) for (j in 1:3) w[i][j] = 10 * i + j;\n"
      "  for (i in 1:2) for (j in 1:2) a[i, j] = 10 * i + j; }");
  std::vector<std::string> names = m->output_names();
  std::vector<std::string> want{"x", "w.1.1", "w.2.1", "w.1.2", "w.2.2", "w.1.3", "w.2.3",
                                "a.1.1", "a.2.1", "a.1.2", "a.2.2"};
  BOOST_TEST(names == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(print_goes_to_the_context_stream) {
  auto m = make_model("parameters { real x; }\nmodel {\n  print(\"x = \", x, \", twice \", 2 * x);\n  x ~ normal(0, 1);\n}");
  std::ostringstream out;
  EvalContext ctx;
  ctx.print_stream = &out;
  Vec u{0.25};
  double v = m->log_density(u.data(), nullptr, true, &ctx);
  BOOST_TEST(close(v, -0.03125, 1e-15));
  BOOST_TEST(contains(out.str(), "x = 0.25, twice 0.5"), out.str());
  // without a stream, prints are discarded
  BOOST_TEST(close(lp(*m, u), -0.03125, 1e-15));
}

BOOST_AUTO_TEST_CASE(constraint_checks_on_transformed_parameters_and_generated_quantities) {
  auto m = make_model(
      "parameters { real x; }\n"
      "transformed parameters {\n  real<lower=0> s = x;\n}\n"
      "model { x ~ normal(0, 1); }\n"
      "generated quantities {\n  real<upper=1> g = 2 * x;\n}");
  EvalContext ctx;
  Vec bad{-0.5};
  BOOST_TEST(!std::isfinite(m->log_density(bad.data(), nullptr, true, &ctx)));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "test.lat:3:"), ctx.failure_text());
  BOOST_TEST(contains(ctx.failure_text(), "'s'"), ctx.failure_text());
  Vec ok{0.25};
  BOOST_TEST(close(lp(*m, ok), -0.03125, 1e-15));
  EvalContext gctx;
  Vec out = m->constrained_outputs(Vec{0.75}.data(), &gctx);  // g = 1.5 > 1
  BOOST_TEST(gctx.failed);
  BOOST_TEST(contains(gctx.failure_text(), "'g'"), gctx.failure_text());
  EvalContext fine;
  out = m->constrained_outputs(ok.data(), &fine);
  BOOST_TEST(!fine.failed);
  BOOST_TEST(out.size() == 3u);
  BOOST_TEST(out[2] == 0.5);
}

BOOST_AUTO_TEST_CASE(concurrent_evaluation) {
  // log_density is thread-safe after the first call: the same value and gradient from 4 threads.
  auto m = load_example("eight_schools");
  std::mt19937_64 rng(8);
  std::vector<Vec> points;
  for (int k = 0; k < 8; ++k) points.push_back(random_theta(rng, 10, -1, 1));
  std::vector<double> want;
  std::vector<Vec> want_g;
  for (auto& p : points) {
    double v = 0;
    want_g.push_back(gradient(*m, p, true, &v));
    want.push_back(v);
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 200; ++rep) {
        size_t k = static_cast<size_t>((rep + t) % 8);
        Vec g(10);
        double v = m->log_density(points[k].data(), g.data(), true);
        if (v != want[k] || g != want_g[k]) ++mismatches;
      }
    });
  for (auto& th : threads) th.join();
  BOOST_TEST(mismatches.load() == 0);
}

BOOST_AUTO_TEST_CASE(operators_and_integer_arithmetic) {
  // Stan's semantics: int / int truncates toward zero, %/% is integer division, % the remainder.
  auto m = make_model(
      "data { int a; int b; }\n"
      "parameters { real x; }\n"
      "model { x ~ normal(0, 1); }\n"
      "generated quantities {\n"
      "  int q = a / b; int nq = -a / b; int d = a %/% b; int r = a % b;\n"
      "  real rq = a * 1.0 / b; real p = 2 ^ 3; real np = -2 ^ 2;\n"
      "  int c1 = a > b && b > 0; int c2 = a < b || b == 2; int c3 = !(a == 7); int c4 = a != b;\n"
      "  real t = a > b ? x : -x; real u = -x + +x * 2 - x / 2;\n"
      "  vector[3] v = [1, 2, 3]'; vector[3] w = v .^ 2; vector[3] z = v ./ w; row_vector[2] rv = [x, 2 * x];\n"
      "  real e = 1e-3 + 2.5E2 + .5;\n"
      "}",
      "{\"a\": 7, \"b\": 2}");
  Vec u{0.5};
  BOOST_TEST(output(*m, u, "q") == 3.0);
  BOOST_TEST(output(*m, u, "nq") == -3.0);
  BOOST_TEST(output(*m, u, "d") == 3.0);
  BOOST_TEST(output(*m, u, "r") == 1.0);
  BOOST_TEST(output(*m, u, "rq") == 3.5);
  BOOST_TEST(output(*m, u, "p") == 8.0);
  BOOST_TEST(output(*m, u, "np") == -4.0);  // unary minus binds looser than ^
  BOOST_TEST(output(*m, u, "c1") == 1.0);
  BOOST_TEST(output(*m, u, "c2") == 1.0);
  BOOST_TEST(output(*m, u, "c3") == 0.0);
  BOOST_TEST(output(*m, u, "c4") == 1.0);
  BOOST_TEST(output(*m, u, "t") == 0.5);
  BOOST_TEST(close(output(*m, u, "u"), -0.5 + 1.0 - 0.25, 1e-15));
  BOOST_TEST(output(*m, u, "w.3") == 9.0);
  BOOST_TEST(close(output(*m, u, "z.2"), 0.5, 1e-15));
  BOOST_TEST(output(*m, u, "rv.2") == 1.0);
  BOOST_TEST(close(output(*m, u, "e"), 250.501, 1e-15));
}

BOOST_AUTO_TEST_CASE(compound_assignment_local_blocks_and_indexing) {
  const std::string model =
      "data { int N; vector[N] y; array[3] int idx; }\n"
      "parameters { real mu; }\n"
      "model {\n"
      "  real acc = 1;\n"
      "  acc *= 2; acc += mu; acc -= 0.5; acc /= 2;\n"   // (2 + mu - 0.5) / 2
      "  {\n"
      "    real local = acc * acc;\n"
      "    target += -local;\n"
      "  }\n"
      "  target += sum(y[2:4]) * mu;\n"                  // slice
      "  target += y[N] + y[:2][2] + y[4:][1];\n"
      "}";
  auto m = make_model(model, "{\"N\": 5, \"y\": [0.3, -1.2, 2.5, 0.8, 1.1], \"idx\": [5, 1, 5]}");
  for (double mu : {-0.4, 1.3}) {
    double acc = (2 + mu - 0.5) / 2;
    double want = -acc * acc + (-1.2 + 2.5 + 0.8) * mu + 1.1 + -1.2 + 0.8;
    BOOST_TEST(close(lp(*m, {mu}), want, 1e-14), lp(*m, {mu}) << " vs " << want);
    check_gradient(*m, {mu});
  }
}

BOOST_AUTO_TEST_CASE(multi_indexing) {
  // Stan: y[idx] with an int array selects elements (a core feature; "not supported yet" here).
  auto m = make_model(
      "data { int N; vector[N] y; array[3] int idx; } parameters { real mu; }\n"
      "model { target += sum(y[idx]) * mu; }",
      "{\"N\": 5, \"y\": [0.3, -1.2, 2.5, 0.8, 1.1], \"idx\": [5, 1, 5]}");
  BOOST_TEST(close(lp(*m, {2.0}), 2 * (1.1 + 0.3 + 1.1), 1e-14));
}

BOOST_AUTO_TEST_CASE(old_array_syntax) {
  // Stan's pre-2.26 declarations compile unchanged and mean the same.
  const std::string data = "{\"N\": 3, \"y\": [0.5, 1.5, -1]}";
  auto old_form = make_model("data { int N; real y[N]; } parameters { real mu; } model { y ~ normal(mu, 1); }", data);
  auto new_form =
      make_model("data { int N; array[N] real y; } parameters { real mu; } model { y ~ normal(mu, 1); }", data);
  for (double mu : {-1.0, 0.25}) BOOST_TEST(lp(*old_form, {mu}) == lp(*new_form, {mu}));
}

BOOST_AUTO_TEST_CASE(empty_containers) {
  // N = 0: loops do not run, vectorised statements over empty vectors add nothing.
  const std::string model =
      "data { int<lower=0> N; vector[N] y; }\n"
      "parameters { real mu; vector[N] z; }\n"
      "model {\n"
      "  mu ~ normal(0, 1);\n"
      "  y ~ normal(mu, 1);\n"
      "  z ~ normal(0, 1);\n"
      "  for (n in 1:N) target += y[n] * mu;\n"
      "  target += sum(y);\n"
      "}";
  auto m = make_model(model, "{\"N\": 0, \"y\": []}");
  BOOST_TEST(m->num_unconstrained() == 1);
  BOOST_TEST(close(lp(*m, {0.5}), -0.125, 1e-15));
  check_gradient(*m, {0.5});
}

BOOST_AUTO_TEST_CASE(array_of_simplexes_and_bounded_matrices) {
  auto m = make_model(
      "parameters { array[2] simplex[3] s; matrix<lower=0>[2, 2] M; }\n"
      "model { for (k in 1:2) s[k] ~ normal(0.3, 1); to_vector(M) ~ exponential(1); }");
  BOOST_TEST(m->num_unconstrained() == 2 * 2 + 4);
  std::mt19937_64 rng(21);
  for (int k = 0; k < 3; ++k) {
    Vec u = random_theta(rng, 8, -1.5, 1.5);
    // s[1] from u[0..1], s[2] from u[2..3] (an array's elements are contiguous in Stan's order)
    double lj1 = 0, lj2 = 0;
    Vec s1 = {}, s2 = {};
    {
      auto simplex = [](const Vec& y, double* lj) {
        Vec x;
        double stick = 1;
        *lj = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          double z = inv_logit(y[i] - std::log(static_cast<double>(y.size() - i)));
          x.push_back(stick * z);
          *lj += std::log(stick) + std::log(z) + std::log1p(-z);
          stick -= x.back();
        }
        x.push_back(stick);
        return x;
      };
      s1 = simplex({u[0], u[1]}, &lj1);
      s2 = simplex({u[2], u[3]}, &lj2);
    }
    BOOST_TEST(close(output(*m, u, "s.1.1"), s1[0], 1e-14));
    BOOST_TEST(close(output(*m, u, "s.1.3"), s1[2], 1e-14));
    BOOST_TEST(close(output(*m, u, "s.2.1"), s2[0], 1e-14));
    BOOST_TEST(close(output(*m, u, "s.2.2"), s2[1], 1e-14));
    BOOST_TEST(close(output(*m, u, "M.2.1"), std::exp(u[5]), 1e-14));
    double want_jac = lj1 + lj2 + u[4] + u[5] + u[6] + u[7];
    BOOST_TEST(close(lp(*m, u, true) - lp(*m, u, false), want_jac, 1e-12));
    double want = -std::exp(u[4]) - std::exp(u[5]) - std::exp(u[6]) - std::exp(u[7]);
    for (double v : {s1[0], s1[1], s1[2], s2[0], s2[1], s2[2]}) want += -0.5 * (v - 0.3) * (v - 0.3);
    BOOST_TEST(close(lp(*m, u, false), want, 1e-12), lp(*m, u, false) << " vs " << want);
    check_gradient(*m, u);
  }
}

BOOST_AUTO_TEST_CASE(vector_bounds) {
  // Stan allows container bounds of the variable's shape.
  auto m = make_model(
      "data { vector[2] L; vector[2] U; } parameters { vector<lower=L, upper=U>[2] v; } model { }",
      "{\"L\": [0, -5], \"U\": [1, 5]}");
  Vec u{0.3, -0.7};
  BOOST_TEST(close(output(*m, u, "v.1"), inv_logit(0.3), 1e-15));
  BOOST_TEST(close(output(*m, u, "v.2"), -5 + 10 * inv_logit(-0.7), 1e-14));
  double lj = std::log(inv_logit(0.3)) + std::log1p(-inv_logit(0.3)) + std::log(10.0) + std::log(inv_logit(-0.7)) +
              std::log1p(-inv_logit(-0.7));
  BOOST_TEST(close(lp(*m, u, true), lj, 1e-13));
}

BOOST_AUTO_TEST_CASE(reject_in_transformed_data_is_a_user_error) {
  std::string msg = user_error([] {
    make_model("data { int N; }\ntransformed data {\n  if (N < 3) reject(\"N must be at least 3, got \", N);\n}\n"
               "parameters { real x; } model { }",
               "{\"N\": 2}");
  });
  BOOST_TEST(contains(msg, "N must be at least 3, got 2"), msg);
  BOOST_TEST(contains(msg, "test.lat:3:"), msg);
}

BOOST_AUTO_TEST_CASE(print_and_reject) {
  auto m = make_model(
      "parameters { real x; }\n"
      "model {\n"
      "  if (x > 5) reject(\"x too large: \", x);\n"
      "  x ~ normal(0, 1);\n"
      "}");
  EvalContext ctx;
  Vec u{6};
  double v = m->log_density(u.data(), nullptr, true, &ctx);
  BOOST_TEST(!std::isfinite(v));
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(ctx.failure_text(), "x too large: 6"), ctx.failure_text());
  BOOST_TEST(contains(ctx.failure_text(), "test.lat:3:"), ctx.failure_text());
  BOOST_TEST(close(lp(*m, {1.0}), -0.5, 1e-15));
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// MAP of a conjugate normal model against the closed-form mode
// ============================================================================================

BOOST_AUTO_TEST_CASE(conjugate_normal_map) {
  const Vec y{1.2, 0.4, 2.9, -0.3, 1.7, 0.8};
  const double sigma = 1.5, m0 = -1, s0 = 0.7;
  auto m = make_model(
      "data { int n; vector[n] y; real sigma; real m0; real s0; }\n"
      "parameters { real mu; }\n"
      "model { mu ~ normal(m0, s0); y ~ normal(mu, sigma); }",
      "{\"n\": 6, \"y\": [1.2, 0.4, 2.9, -0.3, 1.7, 0.8], \"sigma\": 1.5, \"m0\": -1, \"s0\": 0.7}");
  double sum = std::accumulate(y.begin(), y.end(), 0.0), n = static_cast<double>(y.size());
  double mode = (m0 / (s0 * s0) + sum / (sigma * sigma)) / (1 / (s0 * s0) + n / (sigma * sigma));
  LbfgsResult r = map_estimate(*m, {3.0});
  BOOST_TEST(r.converged, r.message);
  BOOST_TEST(std::fabs(r.x[0] - mode) < 1e-6, r.x[0] << " vs " << mode);
  // with a positive scale parameter too: mode of sigma given mu in closed form when mu is fixed
  auto m2 = make_model(
      "data { int n; vector[n] y; } parameters { real<lower=0> sigma; } model { y ~ normal(0, sigma); }",
      "{\"n\": 6, \"y\": [1.2, 0.4, 2.9, -0.3, 1.7, 0.8]}");
  double ss = 0;
  for (double v : y) ss += v * v;
  LbfgsResult r2 = map_estimate(*m2, {0.0});
  BOOST_TEST(r2.converged, r2.message);
  Vec out = m2->constrained_outputs(r2.x.data());
  BOOST_TEST(std::fabs(out[0] - std::sqrt(ss / n)) < 1e-6, out[0] << " vs " << std::sqrt(ss / n));
}

// ============================================================================================
// User errors
// ============================================================================================

BOOST_AUTO_TEST_SUITE(user_errors)

const std::string kModel =
    "data { int<lower=0> N; vector[N] y; int<lower=0, upper=1> b; }\n"
    "parameters { real mu; }\n"
    "model { y ~ normal(mu, 1); }";

BOOST_AUTO_TEST_CASE(missing_field) {
  std::string msg = user_error([] { make_model(kModel, "{\"N\": 2, \"y\": [1, 2]}"); });
  BOOST_TEST(contains(msg, "'b'"), msg);
  BOOST_TEST(contains(msg, "data.json"), msg);
  // the declaration is quoted as written (a vector, not an array of reals)
  std::string v = user_error([] { make_model(kModel, "{\"N\": 2, \"b\": 1}"); });
  BOOST_TEST(contains(v, "'y'"), v);
  BOOST_TEST(contains(v, "vector[2]"), v);
}

BOOST_AUTO_TEST_CASE(wrong_shape) {
  std::string msg = user_error([] { make_model(kModel, "{\"N\": 3, \"y\": [1, 2], \"b\": 1}"); });
  BOOST_TEST(contains(msg, "'y'"), msg);
  std::string msg2 = user_error([] { make_model(kModel, "{\"N\": 2, \"y\": [[1, 2]], \"b\": 1}"); });
  BOOST_TEST(contains(msg2, "'y'"), msg2);
  std::string msg3 = user_error([] { make_model(kModel, "{\"N\": 2, \"y\": 1.5, \"b\": 1}"); });
  BOOST_TEST(contains(msg3, "'y'"), msg3);
}

BOOST_AUTO_TEST_CASE(non_integer_int) {
  std::string msg = user_error([] { make_model(kModel, "{\"N\": 2.5, \"y\": [1, 2], \"b\": 1}"); });
  BOOST_TEST(contains(msg, "'N'"), msg);
  BOOST_TEST(contains(msg, "integer"), msg);
}

BOOST_AUTO_TEST_CASE(value_outside_bounds) {
  std::string msg = user_error([] { make_model(kModel, "{\"N\": 2, \"y\": [1, 2], \"b\": 2}"); });
  BOOST_TEST(contains(msg, "'b'"), msg);
  BOOST_TEST(contains(msg, "upper bound"), msg);
  std::string msg2 = user_error([] { make_model(kModel, "{\"N\": -1, \"y\": [], \"b\": 0}"); });
  BOOST_TEST(contains(msg2, "'N'"), msg2);
}

BOOST_AUTO_TEST_CASE(shape_errors_in_the_model) {
  // Sizes are known when data is bound: the mismatch is reported at the expression.
  std::string a = user_error([] {
    make_model("parameters { vector[3] a; vector[4] b; }\nmodel {\n  target += sum(a + b);\n}");
  });
  BOOST_TEST(contains(a, "test.lat:3:"), a);
  std::string b = user_error([] {
    make_model("data { int N; } parameters { vector[N] a; }\nmodel {\n  vector[N + 1] c = a;\n  target += sum(c);\n}",
               "{\"N\": 3}");
  });
  BOOST_TEST(contains(b, "test.lat:3:"), b);
  std::string c = user_error([] {
    make_model("data { int N; matrix[N, 2] X; } parameters { vector[3] beta; }\nmodel {\n  target += sum(X * beta);\n}",
               "{\"N\": 2, \"X\": [[1, 2], [3, 4]]}");
  });
  BOOST_TEST(contains(c, "test.lat:3:"), c);
}

BOOST_AUTO_TEST_CASE(index_out_of_range) {
  // A constant index out of range is found when the model is built ...
  std::string a = user_error([] {
    make_model("data { int N; vector[N] y; } parameters { real mu; }\nmodel {\n  target += y[N + 1] * mu;\n}",
               "{\"N\": 2, \"y\": [1, 2]}");
  });
  BOOST_TEST(contains(a, "test.lat:3:"), a);
}

BOOST_AUTO_TEST_CASE(index_out_of_range_where_a_condition_or_a_loop_bound_protects_it) {
  // posteriordb's hierarchical_gp: year_re[t] (11 elements) read only where t < 12,
  // with t in 1..14. The index is checked where the condition holds, not refused.
  auto m = make_model(R"(
data { vector[3] y; }
parameters { real mu; }
model {
  for (t in 1:5) {
    if (t < 4) target += y[t] * mu;
    else target += -mu * mu;
  }
  // j runs over 1..(i - 1): y[i - j] stays in 1..3 although i - j's bounds (-1..3) do not
  for (i in 2:4)
    for (j in 1:(i - 1)) target += y[i - j] * mu * 0.1;
}
)",
                      R"({"y": [1, 2, 3]})");
  double mu = 0.7, want = 6 * mu - 2 * mu * mu + 0.1 * mu * (1 + (2 + 1) + (3 + 2 + 1));
  BOOST_TEST(close(lp(*m, {mu}), want, 1e-14));
  // Where the condition does not protect it, the check fails (on data alone: when the
  // data is bound) with its location.
  std::string msg = user_error([] {
    make_model(R"(
data { vector[3] y; }
parameters { real mu; }
model {
  for (t in 1:5)
    if (t < 5) target += y[t] * mu;
}
)",
               R"({"y": [1, 2, 3]})");
  });
  BOOST_TEST(contains(msg, "test.lat:6:"), msg);
  BOOST_TEST(contains(msg, "index out of range; expecting an index in 1..3 (index = 4)"), msg);
}

BOOST_AUTO_TEST_CASE(loops_whose_sizes_change_with_the_loop_variable) {
  // head(y, i - 1) and y[1:i] have a size that changes from one iteration to the next:
  // such a loop is evaluated iteration by iteration (the posteriordb covid models'
  // convolutions, dot_product(sub_col(prediction, 1, m, i - 1), tail(SI, i - 1))).
  auto m = make_model(R"(
data { vector[4] y; }
parameters { real mu; }
model {
  for (i in 2:4) target += dot_product(head(y, i - 1), tail(y, i - 1)) * mu;
  for (i in 1:4) target += sum(y[1:i]) * mu * mu;
}
)",
                      R"({"y": [1, 2, 3, 4]})");
  double mu = 0.3;
  double dots = (1 * 4) + (1 * 3 + 2 * 4) + (1 * 2 + 2 * 3 + 3 * 4), sums = 1 + 3 + 6 + 10;
  BOOST_TEST(close(lp(*m, {mu}), dots * mu + sums * mu * mu, 1e-14));
  check_gradient(*m, {mu});
}

BOOST_AUTO_TEST_CASE(break_under_a_condition_on_data) {
  // x[n] > 2 is data once n is known (the loop is unrolled for its break): the
  // branch is chosen when compiling, so the loop stops at the first x[n] above 2.
  auto m = make_model(R"(
data { int N; vector[N] x; }
parameters { real mu; }
model {
  for (n in 1:N) {
    if (x[n] > 2) break;
    target += -0.5 * square(x[n] - mu);
  }
}
)",
                      R"({"N": 5, "x": [0.5, 1.5, 2.5, 0.1, 0.2]})");
  double mu = 0.7, want = -0.5 * (0.5 - mu) * (0.5 - mu) - 0.5 * (1.5 - mu) * (1.5 - mu);
  BOOST_TEST(close(lp(*m, {mu}), want, 1e-14), lp(*m, {mu}) << " vs " << want);
  check_gradient(*m, {mu});
}

BOOST_AUTO_TEST_CASE(long_unrolled_loop_compiles_without_deep_recursion) {
  // 40000 unrolled iterations whose terms are one of ten shared nodes: the target
  // is a chain of 40000 additions, which codegen once followed recursively (a
  // stack overflow). The closed form sums each prefix's squares by its count.
  const int n = 40000;
  std::string len = "[";
  std::vector<int> lens(n);
  for (int k = 0; k < n; ++k) {
    lens[k] = 1 + (k * 7) % 10;
    len += (k ? "," : "") + std::to_string(lens[k]);
  }
  len += "]";
  auto m = make_model(R"(
data { int N; array[N] int<lower=1, upper=10> len; }
parameters { vector[10] beta; }
model {
  for (n in 1:N) target += -0.5 * dot_self(segment(beta, 1, len[n]));
}
)",
                      "{\"N\": " + std::to_string(n) + ", \"len\": " + len + "}");
  Vec beta{0.1, -0.2, 0.3, 0.05, -0.4, 0.25, 0.15, -0.1, 0.2, -0.3};
  double want = 0;
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < lens[k]; ++j) want += -0.5 * beta[j] * beta[j];
  BOOST_TEST(close_rel(lp(*m, beta), want, 1e-10), lp(*m, beta) << " vs " << want);  // 40000 terms summed in another order
  check_gradient(*m, beta);
}

BOOST_AUTO_TEST_CASE(data_constraint_checked_in_transformed_data) {
  std::string a = user_error([] {
    make_model("data { int N; } transformed data { real<lower=0> s = N - 5; } parameters { real mu; } model { }",
               "{\"N\": 2}");
  });
  BOOST_TEST(contains(a, "s"), a);
}

BOOST_AUTO_TEST_SUITE_END()
