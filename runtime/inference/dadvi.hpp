// Deterministic ADVI (Giordano, Ingram & Broderick, "Black Box Variational
// Inference with a Deterministic Objective: Faster, More Accurate, and Even More
// Black Box", JMLR 2024): the ELBO estimated with M standard-normal draws fixed
// once is an ordinary deterministic function of the variational parameters,
// maximised by L-BFGS to convergence (the compiled, differentiated ELBO of
// advi.hpp at fixed noise). For mean-field, the linear-response covariance
// corrects the approximation's too-narrow, uncorrelated covariance: the
// mean's block of the inverse negative Hessian of that objective.
//
// One decision of ours: the M draws are M/2 antithetic pairs (eps, -eps). Each
// draw is still standard normal (the objective is an unbiased ELBO estimate, as
// the paper's), and the odd moments of the draws vanish: for a Gaussian
// posterior the optimum's mean is then exact (with plain draws it is off by
// L * mean(eps), about sd / sqrt(M)) and the linear-response covariance equals
// the posterior covariance.
#pragma once

#include "compiler/transforms/variational.hpp"
#include "runtime/model/bound_model.hpp"
#include "runtime/optim/lbfgs.hpp"

#include <cstdint>
#include <vector>

namespace latent {

struct DadviOptions {
  Family family = Family::MeanField;
  int draws = 30;  // M: even (antithetic pairs)
  uint64_t seed = 0;
  std::vector<double> initial_mean;  // unconstrained; empty: a point as find_initial_point draws it
  double init_radius = 2;            // ... uniform(-R, R) (CmdStan's init=R; 0: the point 0)
  // Iterations, tolerances and progress of the maximisation; the relative gradient
  // tolerance is the CLI's (1e4 machine epsilons), tighter than CmdStan's 1e7: the
  // objective is deterministic and cheap, and its optimum is the estimate.
  LbfgsOptions lbfgs = [] {
    LbfgsOptions o;
    o.tol_rel_grad = 1e4;
    return o;
  }();
  bool linear_response = true;       // mean-field only
};

struct DadviResult {
  Family family = Family::MeanField;
  std::vector<double> phi;    // variational parameters (layout of variational.hpp)
  double elbo = 0;            // the deterministic objective at phi
  int iterations = 0;
  bool converged = false;
  LbfgsStatus status = LbfgsStatus::kMaxIterations;
  std::string message;
  std::vector<double> noise;  // the fixed draws: n x M, column-major (draw d at d * n)
  // Mean-field with linear_response: n x n row-major; empty when not computed
  // (full-rank, or -H not positive definite: see linear_response_problem).
  std::vector<double> linear_response_covariance;
  std::string linear_response_problem;
};

// M standard-normal draws in n dimensions as M/2 antithetic pairs (M even), from `seed`.
std::vector<double> antithetic_normal_draws(int64_t n, int draws, uint64_t seed);

// Throws UserError when M is not a positive even number, or when the objective
// is not finite at any of the initial scales tried or L-BFGS diverges.
DadviResult fit_dadvi(const BoundModel& model, const DadviOptions& options);

}  // namespace latent
