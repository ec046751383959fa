// Pathfinder (Zhang, Carpenter, Gelman & Vehtari, "Pathfinder: Parallel
// quasi-Newton variational inference", JMLR 2022), as Stan 2.33's
// `pathfinder` service runs it:
//
//  - one path: L-BFGS from a random initial point (uniform(-R, R) on the
//    unconstrained scale) towards the mode of the log density with the
//    Jacobian. At every iterate l = 1..L the L-BFGS inverse Hessian H_l,
//    built from the last J accepted correction pairs (s, y) over a diagonal
//    H_0 = diag(alpha) that is itself updated along the path (Gilbert &
//    Lemaréchal's diagonal BFGS update), defines the normal
//    N(x_l + H_l grad log p(x_l), H_l) (the paper's Algorithms 1 to 3: H_l is
//    diag(alpha) + beta gamma beta' with beta n x 2J, so a draw costs O(nJ)
//    when 2J < n). The ELBO of each normal is estimated with K draws; the
//    normal with the highest ELBO is the path's approximation, and the path's
//    draws come from it (the K draws of its ELBO estimate first, as Stan);
//  - several paths: independent paths (own initial point and random stream),
//    run on a worker pool; their draws are pooled (and resampled by Pareto-
//    smoothed importance weights by the caller: cli/fit_pathfinder.cpp).
//
// A pair is accepted when y's > 0 and |y|^2 / y's <= 1e12 (Stan's test: the
// curvature is positive and not wild); otherwise the iterate keeps the
// previous pairs and diag(alpha). Each draw carries lp_approx (the normal's
// normalised log density) and lp (the model's log density with the Jacobian):
// with the model keeping every constant (Stan's log_prob<propto=false>),
// mean(lp - lp_approx) is an estimate of a lower bound of log p(data).
#pragma once

#include "data/json_data.hpp"
#include "runtime/model/bound_model.hpp"
#include "runtime/optim/lbfgs.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace latent {

// Stan's test for a correction pair (s: step, y: change of the gradient of
// -log p): y's > 0 and |y|^2 / y's <= 1e12.
bool acceptable_curvature(const std::vector<double>& s, const std::vector<double>& y);

// The diagonal inverse-Hessian estimate after the pair (s, y): the diagonal of
// the BFGS update of the Hessian c diag(1/alpha) with c = y' diag(alpha) y / y's
// (Gilbert & Lemaréchal 1989, eq. 4.9; the paper's Algorithm 3). Returns alpha
// unchanged when an entry would not be a positive finite number.
std::vector<double> update_inverse_hessian_diagonal(const std::vector<double>& alpha, const std::vector<double>& s,
                                                    const std::vector<double>& y);

// A normal N(mean, H) with H = diag(alpha) + beta gamma beta' (the L-BFGS inverse
// Hessian in compact form, Byrd, Nocedal & Schnabel 1994), drawn through a factor
// F with F F' = H: dense (the Cholesky factor of H) when 2m >= n, else
// diag(alpha)^1/2 (Q (Lbar - I) Q' + I) from the thin QR of diag(alpha)^-1/2 beta.
class LbfgsNormal {
 public:
  // At x with gradient g of log p, diagonal alpha and the pairs: s[k] = x_{k+1} - x_k
  // and y[k] = the change of the gradient of -log p over that step, oldest first
  // (none: H = diag(alpha)). ok() is false when H is not positive definite in
  // floating point.
  LbfgsNormal(const std::vector<double>& x, const std::vector<double>& g, const std::vector<double>& alpha,
              const std::vector<std::vector<double>>& s, const std::vector<std::vector<double>>& y);
  LbfgsNormal() = default;

  bool ok() const { return ok_; }
  bool dense() const { return dense_; }
  const std::vector<double>& mean() const { return mean_; }
  // log |F| = log det(H) / 2.
  double log_det_factor() const { return log_det_factor_; }
  // mean + F u for a standard normal u (n values); *log_density (if given) is the
  // normal's normalised log density there, -log|F| - (u'u + n log 2 pi) / 2.
  std::vector<double> transform(const std::vector<double>& u, double* log_density) const;
  // H, row-major (n x n; for tests and small outputs).
  std::vector<double> covariance() const;

 private:
  size_t n_ = 0, r_ = 0;  // r_: 2m (columns of beta)
  bool ok_ = false, dense_ = true;
  std::vector<double> mean_, alpha_;
  double log_det_factor_ = 0;
  // dense: the lower Cholesky factor of H (n x n, column-major); sparse: Q
  // (n x r, column-major) and Lbar (r x r, column-major).
  std::vector<double> factor_, q_, lbar_;
  // beta (n x r, column-major) and gamma (r x r, column-major), for covariance().
  std::vector<double> beta_, gamma_;
};

struct PathfinderOptions {
  int paths = 4;         // CmdStan's num_paths
  int history = 6;       // J: the paper's default (CmdStan's history_size is 5)
  int elbo_draws = 25;   // K: draws per ELBO estimate (CmdStan's num_elbo_draws)
  int draws = 1000;      // draws of each path (CmdStan's num_draws)
  int threads = 0;       // 0: one per path, at most one per core
  uint64_t seed = 0;
  const DataSet* init = nullptr;  // constrained initial values by name (missing parameters: random)
  double init_radius = 2;         // random initial points: uniform(-R, R) on the unconstrained scale
  // L-BFGS's iterations and tolerances (its history is `history`); CmdStan's
  // max_lbfgs_iters is 1000.
  LbfgsOptions lbfgs = [] {
    LbfgsOptions o;
    o.max_iterations = 1000;
    return o;
  }();
};

struct PathResult {
  int path = 0;                     // 0-based
  bool failed = false;              // no approximation: see message
  std::string message;              // L-BFGS's message, or why the path failed
  LbfgsStatus status = LbfgsStatus::kMaxIterations;
  int iterations = 0;               // L-BFGS iterations
  int best_iteration = -1;          // the iterate whose normal has the highest ELBO
  double elbo = -INFINITY;          // its estimate (K draws)
  int64_t evaluations = 0;          // log density evaluations (L-BFGS's and the draws')
  std::vector<double> initial_point;  // unconstrained
  LbfgsNormal approximation;        // at best_iteration
  // The path's draws (unconstrained), lp_approx (the normal's log density) and lp
  // (the model's log density with the Jacobian; -inf where it is not finite).
  std::vector<std::vector<double>> z;
  std::vector<double> lp_approx, lp;
};

struct PathfinderRun {
  std::vector<PathResult> paths;  // in path order, failed ones included
  int threads = 0;                // threads the paths ran on
};

// Throws UserError naming the first option out of its range.
void validate(const PathfinderOptions& options);

// Path `path` of a run seeded with options.seed: its random stream (initial point,
// ELBO draws, draws) is random_engine(seed, kPathStreamBase + path), whatever the
// other paths and threads. Never throws a UserError: a path that cannot run is
// returned with failed = true.
PathResult run_pathfinder_path(const BoundModel& model, const PathfinderOptions& options, int path);

constexpr uint64_t kPathStreamBase = 1000;

// Validates, then runs options.paths paths on min(threads, paths) threads. Throws
// UserError when every path failed (with the first path's reason).
PathfinderRun run_pathfinder(const BoundModel& model, const PathfinderOptions& options);

}  // namespace latent
