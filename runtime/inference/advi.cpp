#include "runtime/inference/advi.hpp"
#include "runtime/inference/dadvi.hpp"
#include "runtime/inference/initial_point.hpp"
#include "runtime/inference/job_objective.hpp"
#include "runtime/optim/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace latent {

namespace {

constexpr int kMaxRestarts = 3;  // a diverging run is retried with steps 10, 100 and 1000 times smaller
constexpr uint64_t kGradientNoise = 0, kElboNoise = 1;  // the noise streams of the two objectives

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

std::vector<double> initial_phi(Family family, const std::vector<double>& mean) {
  int64_t n = static_cast<int64_t>(mean.size());
  std::vector<double> phi(mean);
  if (family == Family::MeanField) {
    phi.resize(static_cast<size_t>(2 * n), 0.0);  // omega = 0: unit scales
  } else {
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = j; i < n; ++i) phi.push_back(i == j ? 1.0 : 0.0);  // L = I
  }
  return phi;
}

// Gradient with up to 10 redraws when a draw lands where the density is not finite (as Stan).
bool finite_gradient(JobObjective& obj, const std::vector<double>& phi, std::vector<double>& grad) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    double v = obj.evaluate(phi, grad.data());
    if (std::isfinite(v) && all_finite(grad)) return true;
  }
  return false;
}

// An approximation whose location or scale runs off to ~infinity: a divergence
// (retried with a smaller step; an improper posterior is caught by
// check_objective_bounded at the end). "" when it does not.
std::string running_off(const std::vector<double>& phi, Family family, int64_t n, int iteration) {
  constexpr double kLimit = 1e8;
  for (int64_t i = 0; i < n; ++i) {
    double scale = family == Family::MeanField ? std::exp(phi[n + i]) : 0;
    if (std::fabs(phi[i]) > kLimit || scale > kLimit) {
      std::ostringstream s;
      s << "ADVI diverged at iteration " << iteration << ": the approximation runs off (unconstrained parameter "
        << i + 1 << ": mean " << phi[i];
      if (family == Family::MeanField) s << ", scale " << scale;
      s << "); the posterior may be improper";
      return s.str();
    }
  }
  if (family == Family::FullRank)
    for (size_t k = static_cast<size_t>(n); k < phi.size(); ++k)
      if (std::fabs(phi[k]) > kLimit)
        return "ADVI diverged at iteration " + std::to_string(iteration) +
               ": the scale of the approximation runs off; the posterior may be improper";
  return "";
}

// sqrt((L L')_ii) for every i: the marginal scales of the unconstrained parameters
// under the full-rank factor (packed lower triangle by columns, after the n means).
std::vector<double> marginal_scales(const std::vector<double>& phi, int64_t n) {
  std::vector<double> sum(static_cast<size_t>(n), 0.0);
  size_t k = static_cast<size_t>(n);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t row = j; row < n; ++row, ++k) sum[static_cast<size_t>(row)] += phi[k] * phi[k];
  for (double& v : sum) v = std::sqrt(v);
  return sum;
}

// An improper posterior has an ELBO without a maximum, yet the stochastic run may
// "converge" (Stan's decreasing steps slow the run-off down). The check: the ELBO
// at a few fixed draws (mean-field, as DADVI's objective) maximised by L-BFGS from
// the fitted mean and scales. For a proper posterior it stops at a finite optimum
// after a few iterations; without a maximum, L-BFGS finds the unbounded direction
// or the approximation runs off.
void check_objective_bounded(const BoundModel& model, const AdviResult& r, int64_t n, uint64_t seed) {
  constexpr int kDraws = 8;
  constexpr double kStillRising = 0.5;  // d ELBO / d (a mean or log scale): far from an optimum
  std::vector<double> noise = antithetic_normal_draws(n, kDraws, seed + 2);
  CompiledObjective objective(model, Family::MeanField, kDraws, false);
  std::vector<double> start(r.phi.begin(), r.phi.begin() + n), phi(static_cast<size_t>(2 * n));
  std::vector<double> full_rank_scales = r.family == Family::FullRank ? marginal_scales(r.phi, n) : std::vector<double>{};
  for (int64_t i = 0; i < n; ++i) {
    auto u = static_cast<size_t>(i);
    double scale = r.family == Family::MeanField ? std::exp(r.phi[u + static_cast<size_t>(n)]) : full_rank_scales[u];
    start.push_back(std::log(std::max(scale, 1e-8)));
  }
  auto f = [&](const double* x, double* grad) {
    phi.assign(x, x + phi.size());
    return objective.evaluate_at(phi, noise, grad);
  };
  LbfgsOptions options;
  options.max_iterations = 200;
  LbfgsResult fit = maximize_lbfgs(f, start, options);
  std::string why;
  if (fit.status == LbfgsStatus::kDiverged)
    why = fit.message;
  else if (!running_off(fit.x, Family::MeanField, n, 0).empty())
    why = "the approximation runs off";
  else if (!fit.grad.empty()) {
    // Stopped where the objective stops being finite while it still rises (L-BFGS
    // may call that converged: its steps stall): a flat or rising log density whose
    // draws overflow (exp of a huge unconstrained value) before the approximation
    // runs off. One step further along the steepest coordinate is not finite.
    size_t k = static_cast<size_t>(std::max_element(fit.grad.begin(), fit.grad.end(),
                                                    [](double a, double b) { return std::fabs(a) < std::fabs(b); }) -
                                   fit.grad.begin());
    if (std::fabs(fit.grad[k]) > kStillRising) {
      std::vector<double> further = fit.x, g(further.size());
      further[k] += fit.grad[k] > 0 ? 1 : -1;
      if (!std::isfinite(f(further.data(), g.data())))
        why = "it still rises where the log density stops being finite";
    }
  }
  if (!why.empty())
    throw UserError("ADVI: the ELBO has no maximum (" + why +
                    " when it is maximised at fixed draws from the fitted approximation); the posterior is "
                    "improper, or nearly so. Add a prior or a bound that makes it proper");
}

double median(std::deque<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

CompiledObjective::CompiledObjective(const BoundModel& model, Family family, int64_t draws, bool iwae)
    : model_(model), n_(model.num_unconstrained()), draws_(draws) {
  num_phi_ = num_variational_parameters(family, n_);
  function_ = model.compile(driver::Method::variational(family, draws, iwae));
  noise_.resize(static_cast<size_t>(n_ * draws_));
  out_.resize(static_cast<size_t>(1 + num_phi_));
}

double CompiledObjective::evaluate(const std::vector<double>& phi, std::mt19937_64& rng, double* grad) {
  std::normal_distribution<double> normal;
  for (double& e : noise_) e = normal(rng);
  return evaluate_at(phi, noise_, grad);
}

double CompiledObjective::evaluate_at(const std::vector<double>& phi, const std::vector<double>& noise, double* grad) {
  if (noise.size() != noise_.size() || phi.size() != static_cast<size_t>(num_phi_))
    throw std::invalid_argument("CompiledObjective: wrong size of phi or noise");
  function_.call({phi.data(), model_.data_buffer().data(), noise.data()}, out_.data());
  if (grad) std::copy(out_.begin() + 1, out_.end(), grad);
  return out_[0];
}


GaussianApproximation::GaussianApproximation(Family family, std::vector<double> phi, int64_t n)
    : family_(family), phi_(std::move(phi)), n_(n) {}

std::vector<double> GaussianApproximation::mean() const {
  return std::vector<double>(phi_.begin(), phi_.begin() + n_);
}

std::vector<double> GaussianApproximation::draw(std::mt19937_64& rng, double* log_q, double* log_g_cmdstan) const {
  std::normal_distribution<double> normal;
  std::vector<double> eps(static_cast<size_t>(n_)), z = mean();
  for (double& e : eps) e = normal(rng);
  double log_det = 0, quad = 0;
  for (double e : eps) quad += e * e;
  if (family_ == Family::MeanField) {
    for (int64_t i = 0; i < n_; ++i) {
      z[i] += std::exp(phi_[n_ + i]) * eps[i];
      log_det += phi_[n_ + i];
    }
  } else {
    size_t k = static_cast<size_t>(n_);
    for (int64_t j = 0; j < n_; ++j)
      for (int64_t i = j; i < n_; ++i, ++k) {
        z[i] += phi_[k] * eps[j];
        if (i == j) log_det += std::log(std::fabs(phi_[k]));
      }
  }
  if (log_q) *log_q = -0.5 * quad - log_det;
  if (log_g_cmdstan) *log_g_cmdstan = -0.5 * quad;
  return z;
}

AdviResult fit_advi(const BoundModel& model, const AdviOptions& o) {
  int64_t n = model.num_unconstrained();
  if (n == 0) throw UserError("the model has no parameters: there is nothing to approximate");
  std::mt19937_64 rng(o.seed);
  std::vector<double> mean = o.initial_mean;
  // Stan's start: random points until the density and gradient are finite (the
  // first is BoundModel::random_point's when R = 2, the default).
  if (mean.empty()) {
    try {
      mean = find_initial_point(model, nullptr, true, rng, o.init_radius);
    } catch (const UserError& e) {
      throw UserError(std::string("ADVI cannot start: ") + e.what());
    }
  }
  // In a job of several processes every rank evaluates its share of each
  // evaluation's draws and all take the same steps (job_objective.hpp). The
  // noise is keyed by (seed, objective, evaluation, draw), not drawn from rng.
  distributed::Job& job = distributed::job();
  JobObjective grad_objective(model, o.family, o.grad_samples, o.iwae_objective, o.seed, kGradientNoise, job);
  // Convergence is monitored on the objective being trained.
  JobObjective elbo_objective(model, o.family, o.iwae_objective ? o.grad_samples : o.elbo_samples, o.iwae_objective,
                              o.seed, kElboNoise, job);
  const std::vector<double> phi0 = initial_phi(o.family, mean);
  std::vector<double> grad(phi0.size());

  auto elbo_at = [&](const std::vector<double>& phi) { return elbo_objective.evaluate(phi, nullptr); };

  // Step-size adaptation, as Stan's adapt_eta: try each eta from the same start.
  double eta = o.eta;
  if (o.adapt && o.optimizer == StochasticOptimizer::StanAdaptive) {
    double elbo_init = elbo_at(phi0);
    if (!std::isfinite(elbo_init))
      throw UserError("ADVI: the ELBO is not finite at the initial approximation (the model's log density is "
                      "not finite around the initial point)");
    double best = -INFINITY, best_eta = 0;
    for (double candidate : {100.0, 10.0, 1.0, 0.1, 0.01}) {
      std::vector<double> phi = phi0;
      StochasticStepper stepper(o.optimizer, phi.size(), candidate, o.momentum);
      bool ok = true;
      for (int it = 0; it < o.adapt_iterations && ok; ++it) {
        ok = finite_gradient(grad_objective, phi, grad);
        if (ok) stepper.step(phi, grad);
        ok = ok && all_finite(phi);
      }
      double e = ok ? elbo_at(phi) : -INFINITY;
      if (!std::isfinite(e)) continue;
      if (e < best && best > elbo_init) break;  // getting worse again: the previous eta was best
      if (e > best) {
        best = e;
        best_eta = candidate;
      }
    }
    if (best_eta == 0)
      throw UserError("ADVI: every step size tried (100, 10, 1, 0.1, 0.01) diverged; the model may be "
                      "badly scaled or its posterior improper");
    eta = best_eta;
  }

  // The run, from phi0 with step size eta. A divergence (a gradient that stays
  // non-finite, parameters or an ELBO that become non-finite, an approximation that
  // runs off) is returned as a message, so that the run can be retried with a
  // smaller step; other errors propagate.
  auto run = [&](double eta, AdviResult& r) -> std::string {
    r = AdviResult{};
    r.family = o.family;
    r.eta = eta;
    std::vector<double> phi = phi0;
    StochasticStepper stepper(o.optimizer, phi.size(), eta, o.momentum);
    std::deque<double> changes;
    size_t window = static_cast<size_t>(std::max(0.1 * o.max_iterations / o.eval_elbo, 2.0));
    double previous = NAN;
    for (int it = 1; it <= o.max_iterations; ++it) {
      if (!finite_gradient(grad_objective, phi, grad))
        return "ADVI diverged at iteration " + std::to_string(it) + ": the ELBO gradient is not finite (10 draws in a row)";
      stepper.step(phi, grad);
      if (!all_finite(phi)) return "ADVI diverged at iteration " + std::to_string(it) + ": parameters became non-finite";
      r.iterations = it;
      if (it % o.eval_elbo != 0) continue;
      double elbo = elbo_at(phi);
      if (!std::isfinite(elbo)) return "ADVI diverged at iteration " + std::to_string(it) + ": the ELBO is not finite";
      r.elbo = elbo;
      // As Stan: the first estimate counts as a relative change of 1 (against nothing),
      // so that the fit cannot stop before three estimates.
      double change = std::isnan(previous) ? NAN : std::fabs((elbo - previous) / elbo);
      previous = elbo;
      if (o.progress) o.progress(it, elbo, change);  // NaN: no previous estimate
      std::string off = running_off(phi, o.family, n, it);
      if (!off.empty()) return off;
      changes.push_back(std::isnan(change) ? 1.0 : change);
      if (changes.size() > window) changes.pop_front();
      double mean_change = std::accumulate(changes.begin(), changes.end(), 0.0) / static_cast<double>(changes.size());
      if (mean_change < o.tol_rel_obj) {
        r.converged = true;
        r.message = "mean relative ELBO change below tol_rel_obj";
        break;
      }
      if (median(changes) < o.tol_rel_obj) {
        r.converged = true;
        r.message = "median relative ELBO change below tol_rel_obj";
        break;
      }
    }
    if (!r.converged) r.message = "maximum number of iterations reached without convergence";
    if (std::isnan(previous)) r.elbo = elbo_at(phi);
    r.phi = phi;
    return "";
  };

  // A diverging run is retried from the start with a step ten times smaller (Stan's
  // adaptation tries smaller steps the same way; its driver then gives up, which
  // fails models as simple as a linear regression for some seeds).
  AdviResult r;
  std::vector<std::string> restarts;
  for (int attempt = 0;; ++attempt) {
    std::string divergence = run(eta, r);
    if (divergence.empty()) break;
    std::ostringstream step;
    step << eta;
    if (attempt == kMaxRestarts)
      throw UserError(divergence + " (step size " + step.str() + ", the last of " + std::to_string(attempt + 1) +
                      " tried, each ten times smaller)");
    restarts.push_back(divergence + " (step size " + step.str() + "): restarted with a step ten times smaller");
    eta /= 10;
  }
  r.restarts = restarts;
  check_objective_bounded(model, r, n, o.seed);
  return r;
}

double estimate_elbo(const BoundModel& model, Family family, const std::vector<double>& phi, int draws,
                     uint64_t seed) {
  std::mt19937_64 rng(seed);
  CompiledObjective o(model, family, draws, false);
  return o.evaluate(phi, rng, nullptr);
}

double estimate_iwae(const BoundModel& model, Family family, const std::vector<double>& phi, int k, uint64_t seed) {
  std::mt19937_64 rng(seed);
  if (model.num_unconstrained() == 0) return model.log_density(nullptr, nullptr, true);
  CompiledObjective o(model, family, k, true);
  return o.evaluate(phi, rng, nullptr);
}

}  // namespace latent
