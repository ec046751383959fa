// Deterministic ADVI. See dadvi.hpp.
#include "runtime/inference/dadvi.hpp"

#include "runtime/inference/advi.hpp"
#include "runtime/inference/initial_point.hpp"
#include "runtime/optim/finite_difference_hessian.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <cmath>
#include <random>
#include <sstream>

namespace latent {

namespace {

// [mean, omega = log scale] or [mean, L = scale * I by columns].
std::vector<double> initial_phi(Family family, const std::vector<double>& mean, double scale) {
  const size_t n = mean.size();
  std::vector<double> phi(mean);
  for (size_t j = 0; j < n; ++j) {
    if (family == Family::MeanField) {
      phi.push_back(std::log(scale));
    } else {
      for (size_t i = j; i < n; ++i) phi.push_back(i == j ? scale : 0.0);
    }
  }
  return phi;
}

// The mean's block of (-H)^-1, H the Hessian of the objective with respect to phi.
std::vector<double> linear_response(const std::function<void(const double*, double*)>& gradient,
                                    const std::vector<double>& phi, size_t n, std::string& problem) {
  std::vector<double> h = finite_difference_hessian(gradient, phi);
  const auto m = static_cast<Eigen::Index>(phi.size());
  Eigen::MatrixXd neg(m, m);
  for (Eigen::Index i = 0; i < m; ++i)
    for (Eigen::Index j = 0; j < m; ++j) neg(i, j) = -h[static_cast<size_t>(i * m + j)];
  if (!neg.allFinite()) {
    problem = "the Hessian of the DADVI objective is not finite at the optimum";
    return {};
  }
  Eigen::LLT<Eigen::MatrixXd> llt(neg);
  if (llt.info() != Eigen::Success) {
    problem = "the Hessian of the DADVI objective is not negative definite at the optimum (not a strict maximum)";
    return {};
  }
  Eigen::MatrixXd inv = llt.solve(Eigen::MatrixXd::Identity(m, m));
  std::vector<double> cov(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j)
      cov[i * n + j] = 0.5 * (inv(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) +
                              inv(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)));
  return cov;
}

// As ADVI: a location or scale beyond 1e8 means the objective has no maximum.
void check_not_running_off(const std::vector<double>& phi, Family family, size_t n) {
  constexpr double kLimit = 1e8;
  for (size_t k = 0; k < phi.size(); ++k) {
    bool location = k < n;
    double v = location || family == Family::FullRank ? std::fabs(phi[k]) : std::exp(phi[k]);
    if (!(v > kLimit)) continue;
    std::ostringstream s;
    s << "DADVI: the approximation runs off (";
    if (location)
      s << "the mean of unconstrained parameter " << k + 1;
    else
      s << "a scale";
    s << " reached " << v << "); the posterior may be improper";
    throw UserError(s.str());
  }
}

}  // namespace

std::vector<double> antithetic_normal_draws(int64_t n, int draws, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  const auto un = static_cast<size_t>(n);
  std::vector<double> eps(un * static_cast<size_t>(draws));
  for (size_t pair = 0; pair < static_cast<size_t>(draws / 2); ++pair)
    for (size_t i = 0; i < un; ++i) {
      double e = normal(rng);
      eps[2 * pair * un + i] = e;
      eps[(2 * pair + 1) * un + i] = -e;
    }
  return eps;
}

DadviResult fit_dadvi(const BoundModel& model, const DadviOptions& o) {
  const int64_t n = model.num_unconstrained();
  if (n == 0) throw UserError("the model has no parameters: there is nothing to approximate");
  if (o.draws < 2 || o.draws % 2 != 0)
    throw UserError("DADVI's number of draws must be a positive even number (antithetic pairs); got " +
                    std::to_string(o.draws));
  std::mt19937_64 rng(o.seed);
  std::vector<double> mean = o.initial_mean;
  // Stan's start: random points until the density and gradient are finite (the
  // first is BoundModel::random_point's when R = 2, the default).
  if (mean.empty()) {
    try {
      mean = find_initial_point(model, nullptr, true, rng, o.init_radius);
    } catch (const UserError& e) {
      throw UserError(std::string("DADVI cannot start: ") + e.what());
    }
  }
  DadviResult r;
  r.family = o.family;
  r.noise = antithetic_normal_draws(n, o.draws, o.seed + 1);
  CompiledObjective objective(model, o.family, o.draws, false);
  std::vector<double> phi_buffer(static_cast<size_t>(objective.num_phi()));
  auto f = [&](const double* x, double* grad) {
    phi_buffer.assign(x, x + phi_buffer.size());
    return objective.evaluate_at(phi_buffer, r.noise, grad);
  };

  // Unit scales first; smaller ones when some draw lands where the density is not finite.
  std::vector<double> phi0, grad(phi_buffer.size());
  for (double scale : {1.0, 0.1, 0.01}) {
    std::vector<double> candidate = initial_phi(o.family, mean, scale);
    double v = f(candidate.data(), grad.data());
    bool finite = std::isfinite(v);
    for (double g : grad) finite = finite && std::isfinite(g);
    if (finite) {
      phi0 = candidate;
      break;
    }
  }
  if (phi0.empty())
    throw UserError("DADVI: the objective is not finite at the initial approximation (scales 1, 0.1 and 0.01 "
                    "around the initial point): the log density is not finite at some of the fixed draws");

  LbfgsResult fit = maximize_lbfgs(f, phi0, o.lbfgs);
  if (fit.status == LbfgsStatus::kDiverged)
    throw UserError("DADVI diverged: " + fit.message + "; the posterior may be improper");
  check_not_running_off(fit.x, o.family, static_cast<size_t>(n));
  r.phi = fit.x;
  r.elbo = fit.value;
  r.iterations = fit.iterations;
  r.converged = fit.converged;
  r.status = fit.status;
  r.message = fit.message;
  if (o.family == Family::MeanField && o.linear_response)
    r.linear_response_covariance = linear_response(
        [&](const double* x, double* g) { f(x, g); }, r.phi, static_cast<size_t>(n), r.linear_response_problem);
  return r;
}

}  // namespace latent
