// L-BFGS maximisation with CmdStan's convergence tests. See lbfgs.hpp.
//
// Why not LBFGSpp::LBFGSSolver::minimize: Debian's LBFGSpp (0.1.0) line
// searches throw std::runtime_error / std::logic_error as soon as the
// objective is not finite or the step is not a descent, so a log density that
// is -inf outside its support (the normal case for a model with constraints
// written by hand, or with overflowing terms) aborts the run; its stopping
// tests (||g|| <= eps * ||x||, delta over `past` iterations) are not CmdStan's;
// and it has no notion of an unbounded objective. So the iteration loop and a
// strong-Wolfe line search that backs off from non-finite points live here,
// and LBFGSpp supplies the L-BFGS inverse-Hessian approximation (BFGSMat:
// correction pairs and the two-loop recursion).
//
// The line search (Nocedal & Wright, algorithms 3.5 and 3.6) minimises
// phi(a) = F(x + a p), F = -log density:
//   - a point where F is +inf/NaN, the gradient is not finite, or f throws is
//     "invalid": the step is halved back towards the last good point and the
//     invalid step becomes an upper limit for later expansions;
//   - the bracketing phase expands the step by 4x while the slope stays
//     steeply negative; the zoom phase uses safeguarded cubic interpolation
//     (bisection next to invalid points);
//   - divergence: f = +inf (or > 1e300) anywhere, a step range of 4^40 over
//     which the slope stays as steep as at the start (unbounded along the
//     direction), or parameters beyond 1e100 end the run with kDiverged.
//     CmdStan has no such test (its relative tests divide by |f| and so report
//     "convergence" on an unbounded linear objective); an objective that grows
//     without bound but ever more slowly (log x) still stops on the gradient
//     tests, as in CmdStan;
//   - if the evaluation budget runs out, the best point that satisfies the
//     sufficient-decrease condition is accepted; if there is none, the search
//     failed. After a failure with a non-trivial Hessian approximation the
//     approximation is dropped and steepest descent is tried once (as Stan
//     does) before giving up.
#include "runtime/optim/lbfgs.hpp"

#include <Eigen/Core>
#include <LBFGSpp/BFGSMat.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>

namespace latent {

namespace {

using Vec = Eigen::VectorXd;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = std::numeric_limits<double>::epsilon();
constexpr double kC1 = 1e-4;                 // sufficient decrease
constexpr double kC2 = 0.9;                  // curvature (strong Wolfe)
constexpr double kExpand = 4.0;              // bracketing growth factor
constexpr int kMaxLineSearchEvals = 60;
constexpr int kMaxExpansions = 40;            // 4^40 ~ 1e24
constexpr double kDivergedParameter = 1e100;  // |x_i| beyond this: diverged
constexpr double kDivergedValue = 1e300;      // log density beyond this: diverged

// One evaluation of the objective F = -f at x.
struct Point {
  double a = 0;     // step along the search direction
  double F = kInf;  // objective (-log density)
  double slope = 0; // dF/da = G . p
  Vec x, G;         // point and objective gradient (-grad log density)
};

enum class Eval { kOk, kInvalid, kDiverged };

class Objective {
 public:
  Objective(const std::function<double(const double*, double*)>& f, int n) : f_(f), g_(n) {}

  // Evaluates F = -f and G = -grad f at x.
  Eval operator()(const Vec& x, double& F, Vec& G) {
    ++evaluations;
    if (!x.allFinite()) return Eval::kInvalid;
    double v;
    try {
      std::fill(g_.begin(), g_.end(), 0.0);
      v = f_(x.data(), g_.data());
    } catch (const std::exception& e) {
      last_error = e.what();
      return Eval::kInvalid;
    }
    if (v == kInf || v > kDivergedValue) return Eval::kDiverged;
    if (!std::isfinite(v)) return Eval::kInvalid;
    G.resize(x.size());
    for (Eigen::Index i = 0; i < x.size(); ++i) {
      if (!std::isfinite(g_[i])) return Eval::kInvalid;
      G[i] = -g_[i];
    }
    F = -v;
    return Eval::kOk;
  }

  int evaluations = 0;
  std::string last_error;

 private:
  const std::function<double(const double*, double*)>& f_;
  std::vector<double> g_;
};

enum class Search { kOk, kFailed, kDiverged };

// Minimiser of the cubic through (a0, f0, d0) and (a1, f1, d1); NaN if none.
double cubic_minimum(double a0, double f0, double d0, double a1, double f1, double d1) {
  const double t = d0 + d1 - 3.0 * (f0 - f1) / (a0 - a1);
  const double disc = t * t - d0 * d1;
  if (!(disc >= 0)) return std::numeric_limits<double>::quiet_NaN();
  double s = std::sqrt(disc);
  if (a1 < a0) s = -s;
  return a1 - (a1 - a0) * (d1 + s - t) / (d1 - d0 + 2.0 * s);
}

class LineSearch {
 public:
  LineSearch(Objective& objective, const Point& start, const Vec& p)
      : obj_(objective), start_(start), p_(p) {}

  // On kOk, `out` is the accepted point.
  Search run(double a_init, Point& out) {
    Point lo = start_;  // best point so far that satisfies sufficient decrease
    lo.a = 0;
    double invalid_above = kInf;  // smallest step known to be invalid
    double a = a_init;
    bool first = true;
    while (evals_ < kMaxLineSearchEvals) {
      Point cur;
      Eval e = evaluate(a, cur);
      if (e == Eval::kDiverged) return Search::kDiverged;
      if (e == Eval::kInvalid) {
        invalid_above = a;
        a = lo.a + 0.5 * (a - lo.a);
        if (a - lo.a <= kEps * std::max(lo.a, 1e-300)) break;
        continue;
      }
      if (!sufficient_decrease(cur) || (!first && cur.F >= lo.F))
        return zoom(lo, cur, true, out) ? Search::kOk : fallback(lo, out);
      if (std::fabs(cur.slope) <= -kC2 * start_.slope) {
        out = std::move(cur);
        return Search::kOk;
      }
      if (cur.slope >= 0) return zoom(cur, lo, true, out) ? Search::kOk : fallback(cur, out);
      first = false;
      lo = std::move(cur);
      if (std::isfinite(invalid_above)) {
        a = 0.5 * (lo.a + invalid_above);
      } else if (++expansions_ >= kMaxExpansions) {
        // Still descending as steeply as at the start after growing the step
        // 4^kMaxExpansions times: the objective is unbounded along p.
        return Search::kDiverged;
      } else {
        a = lo.a * kExpand;
      }
    }
    return fallback(lo, out);
  }

 private:
  bool sufficient_decrease(const Point& pt) const {
    return pt.F <= start_.F + kC1 * pt.a * start_.slope;
  }

  Eval evaluate(double a, Point& pt) {
    ++evals_;
    pt.a = a;
    pt.x = start_.x + a * p_;
    Eval e = obj_(pt.x, pt.F, pt.G);
    if (e == Eval::kOk) pt.slope = pt.G.dot(p_);
    return e;
  }

  // Nocedal & Wright algorithm 3.6. `hi_valid` is false when hi is a step
  // where the objective could not be evaluated (then bisect).
  bool zoom(Point lo, Point hi, bool hi_valid, Point& out) {
    while (evals_ < kMaxLineSearchEvals) {
      const double width = std::fabs(hi.a - lo.a);
      if (width <= kEps * std::max(std::fabs(lo.a), std::fabs(hi.a))) break;
      const double left = std::min(lo.a, hi.a), right = std::max(lo.a, hi.a);
      double a = hi_valid ? cubic_minimum(lo.a, lo.F, lo.slope, hi.a, hi.F, hi.slope)
                          : std::numeric_limits<double>::quiet_NaN();
      if (!(a >= left + 0.1 * width && a <= right - 0.1 * width)) a = 0.5 * (lo.a + hi.a);
      Point cur;
      Eval e = evaluate(a, cur);
      if (e == Eval::kDiverged) {
        diverged_ = true;
        return false;
      }
      if (e == Eval::kInvalid) {
        hi.a = a;
        hi_valid = false;
        continue;
      }
      if (!sufficient_decrease(cur) || cur.F >= lo.F) {
        hi = std::move(cur);
        hi_valid = true;
        continue;
      }
      if (std::fabs(cur.slope) <= -kC2 * start_.slope) {
        out = std::move(cur);
        return true;
      }
      if (cur.slope * (hi.a - lo.a) >= 0) {
        hi = std::move(lo);
        hi_valid = true;
      }
      lo = std::move(cur);
    }
    last_lo_ = std::move(lo);
    return false;
  }

  // Budget exhausted: accept the best sufficient-decrease point, if any.
  Search fallback(const Point& lo_outer, Point& out) {
    if (diverged_) return Search::kDiverged;
    const Point* best = &lo_outer;
    if (last_lo_.a > 0 && (best->a <= 0 || last_lo_.F < best->F)) best = &last_lo_;
    if (best->a > 0 && best->F < start_.F && sufficient_decrease(*best)) {
      out = *best;
      return Search::kOk;
    }
    return Search::kFailed;
  }

  Objective& obj_;
  const Point& start_;
  const Vec& p_;
  int evals_ = 0;
  int expansions_ = 0;
  bool diverged_ = false;
  Point last_lo_;
};

std::vector<double> to_std(const Vec& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

std::vector<double> negated(const Vec& v) {
  std::vector<double> r(v.size());
  for (Eigen::Index i = 0; i < v.size(); ++i) r[i] = -v[i];
  return r;
}

}  // namespace

const char* to_string(LbfgsStatus status) {
  switch (status) {
    case LbfgsStatus::kConvergedObjective: return "converged_objective";
    case LbfgsStatus::kConvergedRelObjective: return "converged_relative_objective";
    case LbfgsStatus::kConvergedGradient: return "converged_gradient";
    case LbfgsStatus::kConvergedRelGradient: return "converged_relative_gradient";
    case LbfgsStatus::kConvergedParameters: return "converged_parameters";
    case LbfgsStatus::kMaxIterations: return "max_iterations";
    case LbfgsStatus::kLineSearchFailed: return "line_search_failed";
    case LbfgsStatus::kDiverged: return "diverged";
    case LbfgsStatus::kBadInitialPoint: return "bad_initial_point";
    case LbfgsStatus::kStopped: return "stopped";
  }
  return "unknown";
}

LbfgsResult maximize_lbfgs(const std::function<double(const double* x, double* grad)>& f,
                           std::vector<double> x0, const LbfgsOptions& options) {
  const int n = static_cast<int>(x0.size());
  LbfgsResult result;
  Objective objective(f, n);
  auto finish = [&](LbfgsStatus status, bool converged, std::string message,
                    const Point& at) {
    result.status = status;
    result.converged = converged;
    result.message = std::move(message);
    result.x = to_std(at.x);
    result.value = -at.F;
    result.grad = negated(at.G);
    result.evaluations = objective.evaluations;
    return result;
  };

  Point cur;
  cur.x = Eigen::Map<const Vec>(x0.data(), n);
  cur.G = Vec::Zero(n);
  if (!cur.x.allFinite()) {
    cur.F = kInf;
    return finish(LbfgsStatus::kBadInitialPoint, false,
                  "the initial point has non-finite coordinates", cur);
  }
  switch (objective(cur.x, cur.F, cur.G)) {
    case Eval::kOk:
      break;
    case Eval::kDiverged:
      cur.F = -kInf;
      return finish(LbfgsStatus::kDiverged, false,
                    "the log density is +inf at the initial point", cur);
    case Eval::kInvalid: {
      std::string why = objective.last_error.empty()
                            ? "the log density or its gradient is not finite (-inf or NaN)"
                            : objective.last_error;
      cur.F = kInf;
      return finish(LbfgsStatus::kBadInitialPoint, false,
                    "cannot evaluate the log density at the initial point: " + why, cur);
    }
  }
  std::vector<double> reported_grad;
  auto report = [&](int iteration, const Point& at) {
    if (!options.on_iterate) return;
    reported_grad = negated(at.G);
    options.on_iterate(iteration, at.x.data(), -at.F, reported_grad.data());
  };
  report(0, cur);
  if (cur.G.norm() < options.tol_grad || n == 0)
    return finish(LbfgsStatus::kConvergedGradient, true,
                  "Convergence detected: gradient norm is below tolerance", cur);

  const int history = std::max(1, options.history);
  LBFGSpp::BFGSMat<double> bfgs;
  bfgs.reset(n, history);
  int corrections = 0;       // pairs in bfgs since the last reset
  double last_step_length = 0;

  Vec p(n);
  for (int k = 1;; ++k) {
    result.iterations = k;
    Point next;
    Search search = Search::kFailed;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (corrections > 0) {
        bfgs.apply_Hv(cur.G, -1.0, p);
      } else {
        p = -cur.G;
      }
      cur.slope = cur.G.dot(p);
      if (!(cur.slope < 0) || !p.allFinite()) {  // not a descent direction: reset
        bfgs.reset(n, history);
        corrections = 0;
        p = -cur.G;
        cur.slope = cur.G.dot(p);
      }
      // First trial step: 1 with curvature information (L-BFGS directions
      // are scaled), else init_alpha at the start and the previous step
      // length afterwards.
      double a0 = 1.0;
      if (corrections == 0)
        a0 = last_step_length > 0 ? last_step_length / p.norm() : options.init_alpha;
      if (!(a0 > 0) || !std::isfinite(a0)) a0 = options.init_alpha;
      LineSearch ls(objective, cur, p);
      search = ls.run(a0, next);
      if (search != Search::kFailed || corrections == 0) break;
      bfgs.reset(n, history);  // line search failed: retry along the gradient
      corrections = 0;
    }
    if (search == Search::kDiverged)
      return finish(LbfgsStatus::kDiverged, false,
                    "the log density diverges to +inf (unbounded above, e.g. an improper "
                    "posterior); no optimum exists",
                    cur);
    if (search == Search::kFailed) {
      std::string msg =
          "Line search failed to achieve a sufficient increase of the log density; no more "
          "progress can be made";
      if (!objective.last_error.empty()) msg += " (last error: " + objective.last_error + ")";
      return finish(LbfgsStatus::kLineSearchFailed, false, msg, cur);
    }

    const Vec s = next.x - cur.x;
    const Vec y = next.G - cur.G;
    const double sy = s.dot(y), yy = y.squaredNorm();
    if (sy > kEps * yy && sy > 0 && std::isfinite(sy) && std::isfinite(yy)) {
      bfgs.add_correction(s, y);
      corrections = std::min(corrections + 1, history);
    }
    const double f_prev = cur.F;
    last_step_length = s.norm();
    cur = std::move(next);
    const double grad_norm = cur.G.norm();

    if (options.progress) options.progress(k, -cur.F, grad_norm);
    report(k, cur);
    if (cur.x.cwiseAbs().maxCoeff() > kDivergedParameter)
      return finish(LbfgsStatus::kDiverged, false,
                    "the parameters grow without bound (|x| > 1e100): the log density seems "
                    "unbounded above (e.g. an improper posterior)",
                    cur);

    // CmdStan's tests, in CmdStan's order.
    const double df = std::fabs(f_prev - cur.F);
    if (df < options.tol_obj)
      return finish(LbfgsStatus::kConvergedObjective, true,
                    "Convergence detected: absolute change in objective function was below "
                    "tolerance",
                    cur);
    if (grad_norm < options.tol_grad)
      return finish(LbfgsStatus::kConvergedGradient, true,
                    "Convergence detected: gradient norm is below tolerance", cur);
    if (last_step_length < options.tol_param)
      return finish(LbfgsStatus::kConvergedParameters, true,
                    "Convergence detected: absolute parameter change was below tolerance", cur);
    if (k >= options.max_iterations)
      return finish(LbfgsStatus::kMaxIterations, false,
                    "Maximum number of iterations (" + std::to_string(options.max_iterations) +
                        ") hit, may not be at an optimum",
                    cur);
    const double rel_obj = df / std::max({std::fabs(f_prev), std::fabs(cur.F), 1.0});
    if (rel_obj < options.tol_rel_obj * kEps)
      return finish(LbfgsStatus::kConvergedRelObjective, true,
                    "Convergence detected: relative change in objective function was below "
                    "tolerance",
                    cur);
    // Relative gradient: g' H g with the updated approximation (H = identity
    // scaled by the last correction's curvature, if there is no pair yet).
    Vec hg(n);
    if (corrections > 0) {
      bfgs.apply_Hv(cur.G, 1.0, hg);
    } else {
      hg = cur.G;
    }
    const double rel_grad = cur.G.dot(hg) / std::max(std::fabs(cur.F), 1.0);
    if (rel_grad >= 0 && rel_grad < options.tol_rel_grad * kEps)
      return finish(LbfgsStatus::kConvergedRelGradient, true,
                    "Convergence detected: relative gradient magnitude is below tolerance", cur);
    if (options.stop_requested && options.stop_requested())
      return finish(LbfgsStatus::kStopped, false, "Stopped on request", cur);
  }
}

}  // namespace latent
