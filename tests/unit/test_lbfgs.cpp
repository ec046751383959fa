// L-BFGS maximisation: classic test functions, non-finite regions, divergence.
#define BOOST_TEST_MODULE lbfgs
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <ostream>
#include <stdexcept>

#include "runtime/optim/lbfgs.hpp"

using namespace latent;

namespace latent {
std::ostream& operator<<(std::ostream& os, LbfgsStatus s) { return os << to_string(s); }
}  // namespace latent

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log density = -Rosenbrock
double neg_rosenbrock(const double* x, double* g) {
  const double a = 1 - x[0], b = x[1] - x[0] * x[0];
  g[0] = -(-2 * a - 400 * x[0] * b);
  g[1] = -(200 * b);
  return -(a * a + 100 * b * b);
}

// CmdStan's defaults stop when the relative gradient g'Hg/|f| is below ~2e-9,
// i.e. a few 1e-5 from the optimum; tighter tolerances for 1e-6 accuracy.
LbfgsOptions tight() {
  LbfgsOptions o;
  o.tol_rel_grad = 1e3;
  o.tol_rel_obj = 10;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(rosenbrock) {
  LbfgsResult r = maximize_lbfgs(neg_rosenbrock, {-1.2, 1.0});
  BOOST_TEST(r.converged, r.message);
  BOOST_TEST(std::fabs(r.x[0] - 1) < 1e-6, r.x[0]);
  BOOST_TEST(std::fabs(r.x[1] - 1) < 1e-6, r.x[1]);
  BOOST_TEST(r.value > -1e-10);
  BOOST_TEST(r.iterations > 5);
  BOOST_TEST(r.iterations < 200);
  BOOST_TEST(r.grad.size() == 2u);
  BOOST_TEST(r.message.rfind("Convergence detected", 0) == 0u, r.message);
}

BOOST_AUTO_TEST_CASE(quadratic_50_dims) {
  // log density = -1/2 sum_i c_i (x_i - m_i)^2, condition number 100
  const int n = 50;
  auto f = [&](const double* x, double* g) {
    double v = 0;
    for (int i = 0; i < n; ++i) {
      const double c = 1.0 + 99.0 * i / (n - 1), m = std::sin(i + 1.0);
      v -= 0.5 * c * (x[i] - m) * (x[i] - m);
      g[i] = -c * (x[i] - m);
    }
    return v;
  };
  std::vector<double> x0(n, 3.0);
  int progress_calls = 0;
  LbfgsOptions opt = tight();
  opt.progress = [&](int it, double value, double grad_norm) {
    ++progress_calls;
    BOOST_TEST(std::isfinite(value));
    BOOST_TEST(grad_norm >= 0);
    BOOST_TEST(it == progress_calls);
  };
  LbfgsResult r = maximize_lbfgs(f, x0, opt);
  BOOST_TEST(r.converged, r.message);
  BOOST_TEST(progress_calls == r.iterations);
  for (int i = 0; i < n; ++i) BOOST_TEST(std::fabs(r.x[i] - std::sin(i + 1.0)) < 1e-5, i);
  BOOST_TEST(r.value > -1e-9);
}

BOOST_AUTO_TEST_CASE(minus_infinity_outside_the_support) {
  // log density of a Gamma(3, 1)-like shape on x > 0 in the first coordinate, a normal in the
  // second; -inf (or NaN, or an exception) for x0 <= 0. Optimum (2, 0.5) is interior.
  for (int variant = 0; variant < 3; ++variant) {
    int bad_calls = 0;
    auto f = [&](const double* x, double* g) {
      if (x[0] <= 0) {
        ++bad_calls;
        g[0] = g[1] = 0;
        if (variant == 0) return -kInf;
        if (variant == 1) return std::numeric_limits<double>::quiet_NaN();
        throw std::domain_error("x must be positive");
      }
      g[0] = 2 / x[0] - 1;
      g[1] = -(x[1] - 0.5);
      return 2 * std::log(x[0]) - x[0] - 0.5 * (x[1] - 0.5) * (x[1] - 0.5);
    };
    std::vector<double> accepted;
    LbfgsOptions opt = tight();
    opt.progress = [&](int, double value, double) { accepted.push_back(value); };
    // Start close to the boundary with a large gradient that pushes the first
    // steps over it.
    LbfgsResult r = maximize_lbfgs(f, {40.0, -30.0}, opt);
    BOOST_TEST(r.converged, r.message);
    BOOST_TEST(std::fabs(r.x[0] - 2) < 1e-6, r.x[0]);
    BOOST_TEST(std::fabs(r.x[1] - 0.5) < 1e-6, r.x[1]);
    BOOST_TEST(std::isfinite(r.value));
    for (double v : accepted) BOOST_TEST(std::isfinite(v));
    BOOST_TEST(bad_calls > 0, "variant " << variant << ": the -inf region was never probed");
  }
}

BOOST_AUTO_TEST_CASE(boundary_right_next_to_start) {
  // log density -(x-5)^2 but -inf for x < 0.999: the first gradient step from x = 1
  // goes the right way; from the other side, steps past the wall are rejected.
  auto f = [](const double* x, double* g) {
    if (x[0] < 0.999) {
      g[0] = 0;
      return -kInf;
    }
    g[0] = -2 * (x[0] - 5);
    return -(x[0] - 5) * (x[0] - 5);
  };
  LbfgsResult r = maximize_lbfgs(f, {1.0}, tight());
  BOOST_TEST(r.converged, r.message);
  BOOST_TEST(std::fabs(r.x[0] - 5) < 1e-6);
  LbfgsResult r2 = maximize_lbfgs(f, {100.0}, tight());
  BOOST_TEST(r2.converged, r2.message);
  BOOST_TEST(std::fabs(r2.x[0] - 5) < 1e-6);
}

BOOST_AUTO_TEST_CASE(unbounded_reports_non_convergence) {
  // linear: grows without bound
  auto linear = [](const double* x, double* g) {
    g[0] = 1;
    g[1] = 2;
    return x[0] + 2 * x[1];
  };
  LbfgsResult r = maximize_lbfgs(linear, {0.0, 0.0});
  BOOST_TEST(!r.converged);
  BOOST_TEST(r.status == LbfgsStatus::kDiverged, r.message);
  BOOST_TEST(r.message.find("unbounded") != std::string::npos, r.message);
  BOOST_TEST(r.iterations < 100);

  // reaches +inf at finite x: log density -log(x) near 0 on x > 0
  auto pole = [](const double* x, double* g) {
    if (x[0] < 0) {
      g[0] = 0;
      return -kInf;
    }
    g[0] = -1 / x[0];
    return -std::log(x[0]);
  };
  LbfgsResult p = maximize_lbfgs(pole, {1.0});
  BOOST_TEST(!p.converged);
  BOOST_TEST((p.status == LbfgsStatus::kDiverged || p.status == LbfgsStatus::kLineSearchFailed),
             p.message);

  // cubic
  auto cubic = [](const double* x, double* g) {
    g[0] = 3 * x[0] * x[0] + 1;
    return x[0] * x[0] * x[0] + x[0];
  };
  LbfgsResult c = maximize_lbfgs(cubic, {0.0});
  BOOST_TEST(!c.converged);
  BOOST_TEST(c.status == LbfgsStatus::kDiverged, c.message);
}

BOOST_AUTO_TEST_CASE(bad_initial_points_and_trivial_cases) {
  auto f = [](const double* x, double* g) {
    g[0] = -x[0];
    return x[0] > 10 ? -kInf : -0.5 * x[0] * x[0];
  };
  LbfgsResult r = maximize_lbfgs(f, {20.0});
  BOOST_TEST(!r.converged);
  BOOST_TEST(r.status == LbfgsStatus::kBadInitialPoint);
  BOOST_TEST(r.message.find("initial point") != std::string::npos, r.message);
  r = maximize_lbfgs(f, {std::nan("")});
  BOOST_TEST(r.status == LbfgsStatus::kBadInitialPoint);
  // already at the optimum
  r = maximize_lbfgs(f, {0.0});
  BOOST_TEST(r.converged);
  BOOST_TEST(r.iterations == 0);
  // no parameters at all
  auto none = [](const double*, double*) { return -1.5; };
  r = maximize_lbfgs(none, {});
  BOOST_TEST(r.converged);
  BOOST_TEST(r.value == -1.5);
}

BOOST_AUTO_TEST_CASE(iteration_limit_and_stop) {
  LbfgsOptions opt;
  opt.max_iterations = 3;
  LbfgsResult r = maximize_lbfgs(neg_rosenbrock, {-1.2, 1.0}, opt);
  BOOST_TEST(!r.converged);
  BOOST_TEST(r.status == LbfgsStatus::kMaxIterations);
  BOOST_TEST(r.iterations == 3);
  BOOST_TEST(r.message == "Maximum number of iterations (3) hit, may not be at an optimum");

  LbfgsOptions stop;
  int calls = 0;
  stop.stop_requested = [&] { return ++calls >= 2; };
  r = maximize_lbfgs(neg_rosenbrock, {-1.2, 1.0}, stop);
  BOOST_TEST(r.status == LbfgsStatus::kStopped);
  BOOST_TEST(r.iterations == 2);
}

BOOST_AUTO_TEST_CASE(a_stan_like_posterior) {
  // Normal model with unknown mean and log-sd (unconstrained), 5 data points:
  // MAP of (mu, log sigma) under flat priors is the sample mean and log of the ML sd.
  const std::vector<double> y = {1.2, 0.4, 2.9, 1.7, 0.8};
  auto f = [&](const double* x, double* g) {
    const double mu = x[0], ls = x[1], s = std::exp(ls);
    double v = 0, gm = 0, gs = 0;
    for (double yi : y) {
      const double z = (yi - mu) / s;
      v += -0.5 * z * z - ls;
      gm += z / s;
      gs += z * z - 1;
    }
    g[0] = gm;
    g[1] = gs;
    return v;
  };
  LbfgsResult r = maximize_lbfgs(f, {0.0, 0.0}, tight());
  BOOST_TEST(r.converged, r.message);
  LbfgsResult loose = maximize_lbfgs(f, {0.0, 0.0});  // CmdStan's defaults
  BOOST_TEST(loose.converged, loose.message);
  double mean = 0, ss = 0;
  for (double yi : y) mean += yi / y.size();
  for (double yi : y) ss += (yi - mean) * (yi - mean) / y.size();
  BOOST_TEST(std::fabs(r.x[0] - mean) < 1e-6);
  BOOST_TEST(std::fabs(r.x[1] - 0.5 * std::log(ss)) < 1e-6);
  BOOST_TEST(std::fabs(loose.x[0] - mean) < 1e-3);
  BOOST_TEST(std::fabs(loose.x[1] - 0.5 * std::log(ss)) < 1e-3);
}
