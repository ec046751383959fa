// Automatic differentiation variational inference (ADVI): a Gaussian in the
// unconstrained space, mean-field or full-rank, fitted by stochastic gradient
// ascent on the compiled, symbolically differentiated ELBO (compiler/transforms/
// variational.hpp). Follows Stan's algorithm: step-size adaptation over
// eta in {100, 10, 1, 0.1, 0.01}, Stan's adaptive step-size sequence, and
// convergence by the mean or median relative ELBO change (tol_rel_obj).
#pragma once

#include "runtime/model/bound_model.hpp"
#include "runtime/optim/stochastic_optimizer.hpp"
#include "compiler/transforms/variational.hpp"

#include <functional>
#include <random>
#include <string>
#include <vector>

namespace latent {

struct AdviOptions {
  Family family = Family::MeanField;
  int grad_samples = 1;       // draws per gradient step (Stan: grad_samples)
  bool iwae_objective = false;  // train on IWAE_K with K = grad_samples instead of the ELBO
  int elbo_samples = 100;     // draws per ELBO estimate for convergence (Stan: elbo_samples)
  int eval_elbo = 100;        // iterations between ELBO estimates
  int max_iterations = 10000;
  double tol_rel_obj = 0.01;
  StochasticOptimizer optimizer = StochasticOptimizer::StanAdaptive;
  double eta = 1.0;           // step size (StanAdaptive) or learning rate (Adam, SGD)
  bool adapt = true;          // choose eta as Stan does (StanAdaptive only)
  int adapt_iterations = 50;
  double momentum = 0.9;      // SGD
  uint64_t seed = 0;
  std::vector<double> initial_mean;  // unconstrained; empty: a point as find_initial_point draws it
  double init_radius = 2;            // ... uniform(-R, R) (CmdStan's init=R; 0: the point 0)
  std::function<void(int iteration, double elbo, double relative_change)> progress;
};

struct AdviResult {
  Family family = Family::MeanField;
  std::vector<double> phi;  // variational parameters (layout in variational.hpp)
  double elbo = 0;          // last ELBO estimate
  int iterations = 0;
  bool converged = false;
  double eta = 0;             // the step size of the run returned
  std::string message;
  std::vector<std::string> restarts;  // each diverged run before it (retried with a smaller step)
};

// A fitted Gaussian approximation: draws in the unconstrained space.
class GaussianApproximation {
 public:
  GaussianApproximation(Family family, std::vector<double> phi, int64_t n);
  std::vector<double> mean() const;
  // z = mu + scale(eps) for eps ~ N(0, I); also returns log q(z) up to -n/2 log(2 pi),
  // and -eps'eps/2 (CmdStan's log_g__: the standard normal's log density of the
  // draw before it is scaled, without constants).
  std::vector<double> draw(std::mt19937_64& rng, double* log_q = nullptr, double* log_g_cmdstan = nullptr) const;
  Family family() const { return family_; }
  const std::vector<double>& phi() const { return phi_; }

 private:
  Family family_;
  std::vector<double> phi_;
  int64_t n_;
};

// A compiled variational objective: value and gradient with respect to phi of
// the ELBO (over `draws` draws) or of IWAE_K (k = draws), with noise eps of dims
// {n, draws} (column-major: draw d is eps[d * n .. d * n + n)).
class CompiledObjective {
 public:
  CompiledObjective(const BoundModel& model, Family family, int64_t draws, bool iwae);
  // Draws fresh noise from rng.
  double evaluate(const std::vector<double>& phi, std::mt19937_64& rng, double* grad);
  // At given noise (a deterministic function of phi: for gradient checks).
  double evaluate_at(const std::vector<double>& phi, const std::vector<double>& noise, double* grad);
  int64_t num_phi() const { return num_phi_; }

 private:
  const BoundModel& model_;
  int64_t n_, draws_, num_phi_ = 0;
  BoundModel::CompiledFunction function_;
  std::vector<double> noise_, out_;
};

// Fits the approximation. Throws UserError when every step size diverges or the
// ELBO stays non-finite. In a job of several processes (distributed::job()) every
// rank calls it: the ranks split the draws of each step and ELBO estimate
// (job_objective.hpp) and all return the same result; IWAE is refused there.
AdviResult fit_advi(const BoundModel& model, const AdviOptions& options);

// Monte Carlo estimate of the ELBO (draws) or of the importance-weighted bound
// IWAE_K (k) at given variational parameters, with the compiled objectives.
double estimate_elbo(const BoundModel& model, Family family, const std::vector<double>& phi, int draws,
                     uint64_t seed);
double estimate_iwae(const BoundModel& model, Family family, const std::vector<double>& phi, int k, uint64_t seed);


}  // namespace latent
