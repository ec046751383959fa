// L-BFGS maximisation of a log density (MAP / MLE), with CmdStan's
// convergence tests and option names.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace latent {

struct LbfgsOptions {
  int max_iterations = 2000;
  // First line-search step on the first iteration, along the gradient
  // (CmdStan's init_alpha).
  double init_alpha = 0.001;
  // Convergence tests, with CmdStan's names, defaults and meanings; F is the
  // objective minimised, -log density; eps is the double machine epsilon.
  double tol_obj = 1e-12;      // |F_k - F_{k-1}| < tol_obj
  double tol_rel_obj = 1e4;    // |F_k - F_{k-1}| / max(|F_k|, |F_{k-1}|, 1) < tol_rel_obj * eps
  double tol_grad = 1e-8;      // ||g_k|| < tol_grad
  double tol_rel_grad = 1e7;   // g_k' H_k g_k / max(|F_k|, 1) < tol_rel_grad * eps  (H: L-BFGS inverse Hessian)
  double tol_param = 1e-8;     // ||x_k - x_{k-1}|| < tol_param
  int history = 5;             // number of correction pairs kept
  // Called after each iteration with the current log density and gradient norm.
  std::function<void(int iteration, double value, double grad_norm)> progress;
  // Called at the initial point (iteration 0) and after each accepted iteration
  // with the point, the log density and its gradient there (n values each):
  // the optimisation path, for methods built on it (Pathfinder).
  std::function<void(int iteration, const double* x, double value, const double* grad)> on_iterate;
  // Polled after each iteration; returning true stops the optimiser (e.g. Ctrl-C).
  std::function<bool()> stop_requested;
};

enum class LbfgsStatus {
  kConvergedObjective,      // tol_obj
  kConvergedRelObjective,   // tol_rel_obj
  kConvergedGradient,       // tol_grad (also: zero gradient at the start)
  kConvergedRelGradient,    // tol_rel_grad
  kConvergedParameters,     // tol_param
  kMaxIterations,
  kLineSearchFailed,        // no step improves the objective
  kDiverged,                // log density unbounded above (+inf, or parameters running off)
  kBadInitialPoint,         // log density or gradient not finite at x0
  kStopped,                 // stop_requested() returned true
};

// "converged_objective", "max_iterations", ... (for logs and JSON output).
const char* to_string(LbfgsStatus status);

struct LbfgsResult {
  std::vector<double> x;     // the best point found (the last accepted one)
  double value = 0;          // log density at x
  int iterations = 0;
  bool converged = false;    // true for the five kConverged* statuses
  std::string message;       // one line, CmdStan-like
  LbfgsStatus status = LbfgsStatus::kMaxIterations;
  std::vector<double> grad;  // gradient of the log density at x
  int evaluations = 0;       // calls to f
};

// Maximises f (a log density). f(x, grad) returns the value and writes the
// gradient; it may return -inf/NaN (or throw a std::exception) for points
// outside the support: such points are treated as a failed line-search step,
// the step is shortened, and they are never accepted. +inf, or parameters
// growing beyond 1e100, end the run with kDiverged.
LbfgsResult maximize_lbfgs(const std::function<double(const double* x, double* grad)>& f,
                           std::vector<double> x0, const LbfgsOptions& options = {});

}  // namespace latent
