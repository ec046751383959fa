// NUTS and Stan's adaptation (runtime/inference/{hamiltonian,nuts,adaptation,chains}):
// the pieces against their definitions (leapfrog reversibility and energy, the
// window schedule, dual averaging, Welford and Stan's regularisation, the step-size
// heuristic, divergences, tree depth), then whole runs against known posteriors
// (a correlated normal with dense_e, a conjugate normal-inverse-gamma model, a
// beta-binomial and a lognormal on constrained parameters): means and variances
// within 4 Monte Carlo standard errors over several seeds.
#define BOOST_TEST_MODULE nuts
#include "tests/support/model_fixture.hpp"

#include "runtime/inference/adaptation.hpp"
#include "runtime/inference/chains.hpp"
#include "runtime/inference/diagnostics.hpp"
#include "runtime/inference/hamiltonian.hpp"
#include "runtime/inference/nuts.hpp"

#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/trigamma.hpp>

#include <cmath>
#include <numeric>

using namespace latent;
using namespace latent::testing;

namespace {

// log N(x | 0, diag(sd^2)) up to a constant, and its gradient.
LogDensityGradient independent_normal(std::vector<double> sd) {
  return [sd](const double* q, double* g) {
    double lp = 0;
    for (size_t i = 0; i < sd.size(); ++i) {
      lp -= 0.5 * q[i] * q[i] / (sd[i] * sd[i]);
      g[i] = -q[i] / (sd[i] * sd[i]);
    }
    return lp;
  };
}

// Column `name` of every chain.
Chains column(const NutsRun& run, const std::string& name) {
  auto it = std::find(run.columns.begin(), run.columns.end(), name);
  BOOST_REQUIRE_MESSAGE(it != run.columns.end(), "no column " << name);
  const size_t c = static_cast<size_t>(it - run.columns.begin()), width = run.columns.size();
  Chains out;
  for (const ChainResult& r : run.chains) {
    std::vector<double> v;
    for (int64_t k = 0; k < r.rows; ++k) v.push_back(r.draws[static_cast<size_t>(k) * width + c]);
    out.push_back(v);
  }
  return out;
}

std::vector<double> pooled(const Chains& chains) {
  std::vector<double> all;
  for (auto& c : chains) all.insert(all.end(), c.begin(), c.end());
  return all;
}

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }

// The posterior mean and variance of a column against their true values: each
// estimate within 4 Monte Carlo standard errors (of the mean, and of the mean of
// (x - true mean)^2 for the variance), with the chains mixed (R-hat < 1.01).
void check_moments(const NutsRun& run, const std::string& name, double true_mean, double true_variance) {
  Chains draws = column(run, name);
  const double mean = mean_of(pooled(draws)), mcse = mcse_mean(draws);
  Chains squares = draws;
  for (auto& c : squares)
    for (double& x : c) x = (x - true_mean) * (x - true_mean);
  const double variance = mean_of(pooled(squares)), mcse_variance = mcse_mean(squares);
  BOOST_TEST_CONTEXT(name << ": mean " << mean << " (true " << true_mean << ", mcse " << mcse << "), variance "
                          << variance << " (true " << true_variance << ", mcse " << mcse_variance << ")") {
    BOOST_TEST(std::isfinite(mcse));
    BOOST_TEST(std::fabs(mean - true_mean) < 4 * mcse);
    BOOST_TEST(std::fabs(variance - true_variance) < 4 * mcse_variance);
    BOOST_TEST(rhat(draws) < 1.01);
    // The MCSE itself is small relative to the posterior sd: the sampler moved.
    BOOST_TEST(mcse < 0.1 * std::sqrt(true_variance));
  }
}

void check_mean(const NutsRun& run, const std::string& name, double true_mean) {
  Chains draws = column(run, name);
  const double mean = mean_of(pooled(draws)), mcse = mcse_mean(draws);
  BOOST_TEST(std::fabs(mean - true_mean) < 4 * mcse, name << ": mean " << mean << " (true " << true_mean << ", mcse " << mcse << ")");
}

NutsOptions quick(uint64_t seed, int64_t samples = 1000) {
  NutsOptions o;
  o.chains = 4;
  o.warmup = 1000;
  o.samples = samples;
  o.seed = seed;
  return o;
}

int64_t total_leapfrogs(const NutsRun& run) {
  double n = 0;
  for (double x : pooled(column(run, "n_leapfrog__"))) n += x;
  return static_cast<int64_t>(n);
}

}  // namespace

// ============================================================================================
// the Hamiltonian system
// ============================================================================================

BOOST_AUTO_TEST_CASE(leapfrog_is_reversible_and_nearly_conserves_energy_for_every_metric) {
  for (MetricKind kind : {MetricKind::unit, MetricKind::diagonal, MetricKind::dense}) {
    BOOST_TEST_CONTEXT(metric_name(kind)) {
      EuclideanMetric metric(kind, 3);
      if (kind == MetricKind::diagonal) metric.set_inverse_diagonal(Eigen::Vector3d(0.5, 2, 4));
      if (kind == MetricKind::dense) {
        Eigen::Matrix3d m;
        m << 2, 0.5, 0.1, 0.5, 1, 0.2, 0.1, 0.2, 3;
        metric.set_inverse_matrix(m);
      }
      Hamiltonian h(independent_normal({1, 2, 0.5}), metric);
      PhasePoint z(3);
      z.q << 0.3, -1.2, 0.4;
      z.p << 0.7, 0.1, -0.9;
      h.update_position(z);
      const PhasePoint start = z;
      const double h0 = h.energy(z);
      for (int i = 0; i < 20; ++i) h.leapfrog(z, 0.01);
      BOOST_TEST(std::fabs(h.energy(z) - h0) < 1e-3);
      BOOST_TEST((z.q - start.q).norm() > 0.01);  // it moved
      for (int i = 0; i < 20; ++i) h.leapfrog(z, -0.01);
      BOOST_TEST((z.q - start.q).norm() < 1e-12);
      BOOST_TEST((z.p - start.p).norm() < 1e-12);
    }
  }
}

BOOST_AUTO_TEST_CASE(momentum_draws_have_the_metric_as_covariance) {
  // p ~ N(0, M) where the metric holds M^-1.
  Eigen::Matrix2d inverse;
  inverse << 2, 0.6, 0.6, 0.5;
  EuclideanMetric metric(MetricKind::dense, 2);
  metric.set_inverse_matrix(inverse);
  std::mt19937_64 rng(3);
  Eigen::Matrix2d second = Eigen::Matrix2d::Zero();
  Eigen::VectorXd p;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    metric.draw_momentum(rng, p);
    second += p * p.transpose();
  }
  second /= n;
  Eigen::Matrix2d expected = inverse.inverse();
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      BOOST_TEST(std::fabs(second(i, j) - expected(i, j)) < 0.02 * expected.cwiseAbs().maxCoeff(),
                 "E[p p'](" << i << "," << j << ") = " << second(i, j) << ", M = " << expected(i, j));
  // Kinetic energy and velocity are those of M^-1.
  Eigen::VectorXd q = Eigen::Vector2d(1, -2), v(2);
  BOOST_TEST(metric.kinetic_energy(q) == 0.5 * q.dot(inverse * q), boost::test_tools::tolerance(1e-14));
  metric.velocity(q, v);
  BOOST_TEST((v - inverse * q).norm() < 1e-14);
  BOOST_CHECK_THROW(metric.set_inverse_matrix(-inverse), std::invalid_argument);
}

// ============================================================================================
// adaptation
// ============================================================================================

BOOST_AUTO_TEST_CASE(window_schedule_is_stans_75_25_50_with_doubling_windows) {
  auto window_ends = [](int64_t warmup) {
    AdaptationWindows w(warmup);
    std::vector<int64_t> ends;
    for (int64_t it = 0; it < warmup; ++it)
      if (w.ends_window(it)) {
        ends.push_back(it);
        w.next_window(it);
      }
    return ends;
  };
  // 1000: windows 75-99, 100-149, 150-249, 250-449, 450-949 (the last stretched to the terminal buffer).
  BOOST_TEST(window_ends(1000) == (std::vector<int64_t>{99, 149, 249, 449, 949}), boost::test_tools::per_element());
  BOOST_TEST(window_ends(2000) == (std::vector<int64_t>{99, 149, 249, 449, 849, 1949}), boost::test_tools::per_element());
  BOOST_TEST(window_ends(150) == (std::vector<int64_t>{99}), boost::test_tools::per_element());
  AdaptationWindows w(1000);
  BOOST_TEST(!w.in_window(74));
  BOOST_TEST(w.in_window(75));
  BOOST_TEST(w.in_window(949));
  BOOST_TEST(!w.in_window(950));
  // Shorter than 150: 15% / 75% / 10%.
  AdaptationWindows shrunk(100);
  BOOST_TEST(shrunk.shrunk());
  BOOST_TEST(shrunk.init_buffer() == 15);
  BOOST_TEST(shrunk.term_buffer() == 10);
  BOOST_TEST(shrunk.base_window() == 75);
  BOOST_TEST(window_ends(100) == (std::vector<int64_t>{89}), boost::test_tools::per_element());
  // Below 20: no metric adaptation at all.
  BOOST_TEST(!AdaptationWindows(19).enabled());
  BOOST_TEST(window_ends(19).empty());
}

BOOST_AUTO_TEST_CASE(dual_averaging_follows_stans_recursion) {
  // With the acceptance statistic always delta, the step size stays at exp(mu).
  StepSizeAdaptation still(0.8);
  still.set_mu(std::log(10 * 0.5));
  for (int i = 0; i < 50; ++i) BOOST_TEST(still.learn(0.8) == 5.0, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(still.final_step_size() == 5.0, boost::test_tools::tolerance(1e-12));
  // One step by hand: eta = 1 / (1 + t0), s = eta (delta - a), x = mu - s sqrt(1) / gamma.
  StepSizeAdaptation one(0.8);
  one.set_mu(0.3);
  const double s = (0.8 - 0.2) / 11.0, x = 0.3 - s / 0.05;
  BOOST_TEST(one.learn(0.2) == std::exp(x), boost::test_tools::tolerance(1e-14));
  BOOST_TEST(one.final_step_size() == std::exp(x), boost::test_tools::tolerance(1e-14));  // x_bar = x after one step
  // Acceptance above delta (capped at 1) pushes the step size up; below it, down.
  StepSizeAdaptation up(0.8), down(0.8);
  double a = 0, b = 0;
  for (int i = 0; i < 20; ++i) {
    a = up.learn(1.7);
    b = down.learn(0.1);
  }
  BOOST_TEST(a > 1.0);
  BOOST_TEST(b < 1.0);
  up.restart();
  BOOST_TEST(up.final_step_size() == 1.0);
}

BOOST_AUTO_TEST_CASE(metric_adaptation_is_the_regularised_window_variance) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal;
  const int64_t warmup = 200;  // windows 75-99 (n = 25), then 100-149 stretched: the schedule of 200
  for (bool dense : {false, true}) {
    MetricAdaptation adaptation(2, dense, warmup);
    std::vector<Eigen::VectorXd> window;
    Eigen::VectorXd diagonal;
    Eigen::MatrixXd matrix;
    bool updated = false;
    for (int64_t it = 0; it < warmup && !updated; ++it) {
      Eigen::VectorXd q(2);
      q << 3 * normal(rng), normal(rng);
      q[1] += 0.5 * q[0];
      if (it >= 75) window.push_back(q);
      updated = adaptation.learn(it, q, diagonal, matrix);
      if (updated) BOOST_TEST(it == 99);
    }
    BOOST_REQUIRE(updated);
    const double n = static_cast<double>(window.size());
    BOOST_TEST(n == 25);
    Eigen::VectorXd mean = Eigen::VectorXd::Zero(2);
    for (auto& q : window) mean += q / n;
    Eigen::MatrixXd cov = Eigen::MatrixXd::Zero(2, 2);
    for (auto& q : window) cov += (q - mean) * (q - mean).transpose() / (n - 1);
    Eigen::MatrixXd expected = n / (n + 5) * cov + 1e-3 * 5 / (n + 5) * Eigen::MatrixXd::Identity(2, 2);
    if (dense) {
      BOOST_TEST((matrix - expected).norm() < 1e-12);
    } else {
      BOOST_TEST((diagonal - expected.diagonal()).norm() < 1e-12);
    }
  }
}

// ============================================================================================
// the sampler
// ============================================================================================

BOOST_AUTO_TEST_CASE(step_size_heuristic_scales_with_the_posterior_and_rejects_improper_ones) {
  std::mt19937_64 rng(1);
  for (double sd : {1e-3, 1.0, 100.0}) {
    NutsSampler nuts(independent_normal({sd, sd}), 2, MetricKind::unit, rng);
    nuts.set_position({0.1 * sd, -0.2 * sd});
    nuts.set_step_size(1);
    nuts.init_step_size();
    // Stan's heuristic stops within a factor of 2 of where one leapfrog step's
    // acceptance crosses 0.8, near sd for a normal.
    BOOST_TEST_CONTEXT("sd " << sd << ": step " << nuts.step_size()) {
      BOOST_TEST(nuts.step_size() > 0.1 * sd);
      BOOST_TEST(nuts.step_size() < 10 * sd);
    }
    BOOST_TEST(nuts.state().q[0] == 0.1 * sd);  // the position is restored
  }
  NutsSampler flat([](const double*, double* g) { g[0] = 0; return 0.0; }, 1, MetricKind::unit, rng);
  flat.set_position({0.0});
  std::string message = error_of([&] { flat.init_step_size(); });
  BOOST_TEST(contains(message, "improper"), message);
}

BOOST_AUTO_TEST_CASE(a_huge_step_size_diverges_at_the_first_leapfrog) {
  std::mt19937_64 rng(2);
  NutsSampler nuts(independent_normal({1, 1}), 2, MetricKind::unit, rng);
  nuts.set_position({0.5, 0.5});
  nuts.set_step_size(1e3);
  NutsTransition t = nuts.transition();
  BOOST_TEST(t.divergent);
  BOOST_TEST(t.tree_depth == 0);
  BOOST_TEST(t.n_leapfrog == 1);
  BOOST_TEST(t.accept_stat < 1e-100);
  BOOST_TEST(nuts.state().q[0] == 0.5);  // stays at the start
  // A reasonable step size does not diverge, and the trajectory doubles until it turns.
  nuts.set_step_size(0.2);
  for (int i = 0; i < 100; ++i) {
    NutsTransition u = nuts.transition();
    BOOST_TEST(!u.divergent);
    BOOST_TEST(u.tree_depth >= 1);
    BOOST_TEST(u.n_leapfrog <= (int64_t{1} << u.tree_depth) - 1 + (int64_t{1} << u.tree_depth));
    BOOST_TEST(u.n_leapfrog >= (int64_t{1} << u.tree_depth) - 1);
    BOOST_TEST(u.accept_stat >= 0.0);
    BOOST_TEST(u.accept_stat <= 1.0);
    BOOST_TEST(u.energy >= -u.log_density - 1e-12);  // H = -lp + kinetic energy >= -lp
  }
}

BOOST_AUTO_TEST_CASE(max_depth_caps_the_trajectory) {
  std::mt19937_64 rng(4);
  NutsSampler nuts(independent_normal({1, 100}), 2, MetricKind::unit, rng);
  nuts.set_position({0.1, 10});
  nuts.set_step_size(0.01);  // a long way to a U-turn: ~ pi * 100 / 0.01 steps
  nuts.set_max_depth(3);
  for (int i = 0; i < 20; ++i) {
    NutsTransition t = nuts.transition();
    BOOST_TEST(t.tree_depth == 3);
    BOOST_TEST(t.n_leapfrog == 7);
  }
}

// ============================================================================================
// runs against known posteriors
// ============================================================================================

BOOST_AUTO_TEST_CASE(correlated_normal_with_dense_and_diagonal_metrics) {
  // x ~ N(0, S), sds 1 and 10, correlation 0.95: a diagonal metric cannot undo the
  // correlation, a dense one can.
  const std::string model = R"(
    parameters { vector[2] x; }
    model {
      real rho = 0.95;
      real a = x[1] / 1;
      real b = x[2] / 10;
      target += -0.5 / (1 - rho^2) * (a^2 - 2 * rho * a * b + b^2);
    }
    generated quantities { real product = x[1] * x[2]; }
  )";
  auto m = make_model(model);
  int64_t leapfrogs_dense = 0, leapfrogs_diag = 0;
  for (uint64_t seed : {11, 12, 13}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      NutsOptions o = quick(seed);
      o.metric = MetricKind::dense;
      NutsRun run = run_nuts(*m, o);
      check_moments(run, "x.1", 0, 1);
      check_moments(run, "x.2", 0, 100);
      check_moments(run, "product", 0.95 * 10, 100 + 0.95 * 0.95 * 100);  // E[xy] = cov, var(xy) = s1^2 s2^2 (1 + rho^2)
      for (const ChainResult& c : run.chains) {
        BOOST_TEST(c.divergences == 0);
        BOOST_REQUIRE(c.inverse_metric.size() == 4u);
        // The adapted inverse metric estimates the covariance.
        BOOST_TEST(c.inverse_metric[3] > 50);
        BOOST_TEST(c.inverse_metric[3] < 200);
        BOOST_TEST(c.inverse_metric[1] == c.inverse_metric[2]);
        BOOST_TEST(c.inverse_metric[1] > 0.95 * 10 * 0.5);
      }
      leapfrogs_dense += total_leapfrogs(run);
      o.metric = MetricKind::diagonal;
      NutsRun diag = run_nuts(*m, o);
      check_moments(diag, "x.2", 0, 100);
      leapfrogs_diag += total_leapfrogs(diag);
    }
  }
  BOOST_TEST_MESSAGE("leapfrog steps: dense " << leapfrogs_dense << ", diagonal " << leapfrogs_diag);
  BOOST_TEST(leapfrogs_dense * 2 < leapfrogs_diag);
}

BOOST_AUTO_TEST_CASE(conjugate_normal_inverse_gamma_model) {
  // mu | s2 ~ N(m0, s2 / k0), s2 ~ InvGamma(a0, b0), y_i ~ N(mu, s2): the
  // posterior is normal-inverse-gamma with the updates below; marginally mu is a
  // Student t and s2 an inverse gamma.
  const std::vector<double> y{2.1, 3.3, 1.7, 2.8, 4.0, 2.2, 3.1, 2.6, 1.9, 3.5};
  const double m0 = 1, k0 = 2, a0 = 3, b0 = 2;
  std::string data = "{\"N\": 10, \"y\": [";
  for (size_t i = 0; i < y.size(); ++i) data += (i ? ", " : "") + std::to_string(y[i]);
  data += "]}";
  auto m = make_model(R"(
    data { int N; vector[N] y; }
    parameters { real mu; real<lower=0> s2; }
    model {
      s2 ~ inv_gamma(3, 2);
      mu ~ normal(1, sqrt(s2 / 2));
      y ~ normal(mu, sqrt(s2));
    }
    generated quantities { real log_s2 = log(s2); }
  )", data);
  const double n = static_cast<double>(y.size());
  const double ybar = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double ss = 0;
  for (double v : y) ss += (v - ybar) * (v - ybar);
  const double kn = k0 + n, mn = (k0 * m0 + n * ybar) / kn, an = a0 + n / 2,
               bn = b0 + 0.5 * ss + k0 * n * (ybar - m0) * (ybar - m0) / (2 * kn);
  for (uint64_t seed : {21, 22, 23}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      NutsRun run = run_nuts(*m, quick(seed));
      check_moments(run, "mu", mn, bn / (kn * (an - 1)));
      // s2's variance estimate is too heavy-tailed for its MCSE to be trusted;
      // log(s2) has mean log(bn) - digamma(an) and variance trigamma(an).
      check_mean(run, "s2", bn / (an - 1));
      check_moments(run, "log_s2", std::log(bn) - boost::math::digamma(an), boost::math::trigamma(an));
    }
  }
}

BOOST_AUTO_TEST_CASE(constrained_parameters_beta_binomial_and_lognormal) {
  // theta ~ beta(2, 3), k = 7 of n = 20: theta | k ~ beta(9, 16).
  auto beta = make_model(R"(
    data { int n; int k; }
    parameters { real<lower=0, upper=1> theta; }
    model { theta ~ beta(2, 3); k ~ binomial(n, theta); }
  )", R"({"n": 20, "k": 7})");
  // x ~ lognormal(0.5, 0.6) with the bound x > 0.
  auto lognormal = make_model(R"(
    parameters { real<lower=0> x; }
    model { x ~ lognormal(0.5, 0.6); }
  )");
  const double a = 9, b = 16;
  const double ln_mean = std::exp(0.5 + 0.18), ln_var = (std::exp(0.36) - 1) * std::exp(1 + 0.36);
  for (uint64_t seed : {31, 32, 33}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      check_moments(run_nuts(*beta, quick(seed)), "theta", a / (a + b), a * b / ((a + b) * (a + b) * (a + b + 1)));
      check_moments(run_nuts(*lognormal, quick(seed)), "x", ln_mean, ln_var);
    }
  }
}

// ============================================================================================
// chains: streams, columns, thinning, generated quantities
// ============================================================================================

BOOST_AUTO_TEST_CASE(chains_are_reproducible_independent_and_do_not_depend_on_threads) {
  auto m = make_model(R"(
    parameters { real mu; real<lower=0> sigma; }
    model { mu ~ normal(1, 2); sigma ~ lognormal(0, 1); }
    generated quantities { real twice = 2 * mu; real noise = normal_rng(0, 1); }
  )");
  NutsOptions o = quick(7, 200);
  o.warmup = 200;
  o.chains = 3;
  o.threads = 1;
  NutsRun one_thread = run_nuts(*m, o);
  o.threads = 3;
  NutsRun three_threads = run_nuts(*m, o);
  NutsRun again = run_nuts(*m, o);
  BOOST_REQUIRE(one_thread.chains.size() == 3u);
  for (size_t c = 0; c < 3; ++c) {
    BOOST_TEST(one_thread.chains[c].draws == three_threads.chains[c].draws);
    BOOST_TEST(again.chains[c].draws == three_threads.chains[c].draws);
  }
  BOOST_TEST(one_thread.chains[0].draws != one_thread.chains[1].draws);
  BOOST_TEST(one_thread.chains[0].initial_point != one_thread.chains[1].initial_point);
  o.seed = 8;
  BOOST_TEST(run_nuts(*m, o).chains[0].draws != one_thread.chains[0].draws);

  // Columns: Stan's sampler columns, then the outputs; generated quantities per draw.
  const std::vector<std::string> expected{"lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__",
                                          "divergent__", "energy__", "mu", "sigma", "twice", "noise"};
  BOOST_TEST(one_thread.columns == expected, boost::test_tools::per_element());
  // _rng calls of generated quantities: a stream per chain, a new draw per draw.
  Chains noise = column(one_thread, "noise");
  BOOST_TEST(noise[0] != noise[1]);
  std::vector<double> all_noise = pooled(noise);
  double noise_mean = mean_of(all_noise), noise_var = 0;
  for (double x : all_noise) noise_var += (x - noise_mean) * (x - noise_mean) / static_cast<double>(all_noise.size());
  BOOST_TEST(std::fabs(noise_mean) < 0.15);
  BOOST_TEST(std::fabs(noise_var - 1) < 0.2);
  Chains mu = column(one_thread, "mu"), twice = column(one_thread, "twice"), sigma = column(one_thread, "sigma"),
         step = column(one_thread, "stepsize__"), lp = column(one_thread, "lp__");
  for (size_t c = 0; c < mu.size(); ++c) {
    BOOST_TEST(mu[c].size() == 200u);
    for (size_t d = 0; d < mu[c].size(); ++d) {
      BOOST_TEST(twice[c][d] == 2 * mu[c][d]);
      BOOST_TEST(sigma[c][d] > 0);
      // After warm-up the step size is the adapted one.
      BOOST_TEST(step[c][d] == one_thread.chains[c].step_size);
      // lp__ is the log density with the Jacobian at the draw: -(mu-1)^2/8 - log(sigma)^2/2 - log(sigma) + log(sigma).
      const double ls = std::log(sigma[c][d]);
      BOOST_TEST(lp[c][d] == -(mu[c][d] - 1) * (mu[c][d] - 1) / 8 - ls * ls / 2, boost::test_tools::tolerance(1e-9));
    }
  }
}

BOOST_AUTO_TEST_CASE(thinning_initial_values_and_tree_depth_saturation) {
  auto m = make_model(R"(
    parameters { real mu; }
    model { mu ~ normal(3, 1); }
  )");
  NutsOptions o = quick(9, 101);
  o.warmup = 100;
  o.chains = 2;
  o.thin = 10;
  NutsRun run = run_nuts(*m, o);
  for (const ChainResult& c : run.chains) BOOST_TEST(c.rows == 11);  // draws 0, 10, ..., 100

  // Initial values by name (all chains), or a radius: 0 is the point 0.
  DataSet init = DataSet::from_json_string(R"({"mu": 40})", "init.json");
  o.init = &init;
  o.thin = 1;
  run = run_nuts(*m, o);
  for (const ChainResult& c : run.chains) BOOST_TEST(c.initial_point == std::vector<double>{40.0});
  o.init = nullptr;
  o.init_radius = 0;
  run = run_nuts(*m, o);
  for (const ChainResult& c : run.chains) BOOST_TEST(c.initial_point == std::vector<double>{0.0});

  // With max_depth 1 on a badly scaled problem without warm-up, every transition saturates.
  auto wide = make_model(R"(
    parameters { vector[2] x; }
    model { x[1] ~ normal(0, 1); x[2] ~ normal(0, 1000); }
  )");
  o = quick(10, 50);
  o.warmup = 0;
  o.max_depth = 1;
  o.step_size = 0.1;
  run = run_nuts(*wide, o);
  for (const ChainResult& c : run.chains) {
    BOOST_TEST(c.max_depth_hits == 50);
    BOOST_TEST(c.step_size == 0.1);  // no warm-up: no adaptation
  }
  BOOST_TEST(!run.notes.empty());
}

BOOST_AUTO_TEST_CASE(failed_generated_quantities_are_nan_and_counted) {
  auto m = make_model(R"(
    parameters { real mu; }
    model { mu ~ normal(0, 1); }
    generated quantities {
      real positive = mu;
      if (mu < 0) reject("mu is negative: ", mu);
    }
  )");
  NutsOptions o = quick(12, 200);
  o.warmup = 200;
  o.chains = 1;
  NutsRun run = run_nuts(*m, o);
  const ChainResult& c = run.chains[0];
  Chains mu = column(run, "mu"), positive = column(run, "positive");
  int64_t negative = 0;
  for (size_t d = 0; d < mu[0].size(); ++d) {
    if (mu[0][d] < 0) {
      ++negative;
      BOOST_TEST(std::isnan(positive[0][d]));
    } else {
      BOOST_TEST(positive[0][d] == mu[0][d]);
    }
  }
  BOOST_TEST(negative > 20);
  BOOST_TEST(c.generated_failures == negative);
  BOOST_TEST(contains(c.first_generated_failure, "mu is negative"), c.first_generated_failure);
}

BOOST_AUTO_TEST_CASE(options_out_of_range_are_user_errors_naming_the_option) {
  auto m = make_model("parameters { real mu; } model { mu ~ normal(0, 1); }");
  auto message = [&](auto change) {
    NutsOptions o;
    change(o);
    return error_of([&] { run_nuts(*m, o); });
  };
  BOOST_TEST(contains(message([](NutsOptions& o) { o.chains = 0; }), "chains (--chains) must be between 1 and 1024"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.chains = 1025; }), "chains (--chains) must be between 1 and 1024"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.samples = 0; }), "number of samples (--samples) must be positive"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.warmup = -1; }), "warm-up"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.thin = 0; }), "thin (--thin) must be positive"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.max_depth = 0; }), "maximum tree depth"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.adapt_delta = 1; }), "adapt_delta (--adapt-delta) must be strictly between 0 and 1"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.adapt_delta = 0; }), "adapt_delta"));
  BOOST_TEST(contains(message([](NutsOptions& o) { o.step_size = -1; }), "step size"));
  auto none = make_model("data { real y; } model { y ~ normal(0, 1); }", R"({"y": 1})");
  BOOST_TEST(contains(error_of([&] { run_nuts(*none, NutsOptions{}); }), "no parameters"));
  // A chain that cannot start names itself.
  auto never = make_model("parameters { real mu; } model { target += negative_infinity(); }");
  NutsOptions o;
  o.chains = 2;
  BOOST_TEST(contains(error_of([&] { run_nuts(*never, o); }), "chain "));
}
