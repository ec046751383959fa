// Pathfinder. See pathfinder.hpp.
#include "runtime/inference/pathfinder.hpp"

#include "common/source.hpp"
#include "kernels/random.hpp"
#include "runtime/inference/initial_point.hpp"
#include "runtime/inference/worker_pool.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <thread>

namespace latent {

namespace {

using Vec = Eigen::VectorXd;
using Mat = Eigen::MatrixXd;

constexpr double kLog2Pi = 1.8378770664093454836;
constexpr double kMaxCurvature = 1e12;

Eigen::Map<const Vec> view(const std::vector<double>& v) {
  return Eigen::Map<const Vec>(v.data(), static_cast<Eigen::Index>(v.size()));
}

std::vector<double> to_std(const Vec& v) { return std::vector<double>(v.data(), v.data() + v.size()); }

}  // namespace

bool acceptable_curvature(const std::vector<double>& s, const std::vector<double>& y) {
  const double ys = view(y).dot(view(s)), yy = view(y).squaredNorm();
  return ys > 0 && std::isfinite(ys) && std::isfinite(yy) && yy / ys <= kMaxCurvature;
}

std::vector<double> update_inverse_hessian_diagonal(const std::vector<double>& alpha, const std::vector<double>& s,
                                                    const std::vector<double>& y) {
  // B = c diag(1/alpha), c = y' diag(alpha) y / y's; B+ = B + y y' / y's - B s s' B / s' B s;
  // the new alpha is 1 / diag(B+).
  const size_t n = alpha.size();
  double ys = 0, yay = 0, sas = 0;
  for (size_t i = 0; i < n; ++i) {
    ys += y[i] * s[i];
    yay += y[i] * alpha[i] * y[i];
    sas += s[i] * s[i] / alpha[i];
  }
  const double c = yay / ys;
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double b = c / alpha[i], bs = b * s[i];
    const double diagonal = b + y[i] * y[i] / ys - bs * bs / (c * sas);
    out[i] = 1 / diagonal;
    if (!(out[i] > 0) || !std::isfinite(out[i])) return alpha;
  }
  return out;
}

LbfgsNormal::LbfgsNormal(const std::vector<double>& x, const std::vector<double>& g,
                         const std::vector<double>& alpha, const std::vector<std::vector<double>>& s,
                         const std::vector<std::vector<double>>& y)
    : n_(x.size()), alpha_(alpha) {
  const auto n = static_cast<Eigen::Index>(n_), m = static_cast<Eigen::Index>(s.size());
  r_ = static_cast<size_t>(2 * m);
  Eigen::Map<const Vec> a(alpha.data(), n), gradient(g.data(), n);
  Mat S(n, m), Y(n, m);
  for (Eigen::Index k = 0; k < m; ++k) {
    S.col(k) = view(s[static_cast<size_t>(k)]);
    Y.col(k) = view(y[static_cast<size_t>(k)]);
  }
  // Compact form of the inverse BFGS matrix from diag(alpha) and the pairs:
  // H = diag(alpha) + beta gamma beta', beta = [diag(alpha) Y, (R^-1 S')'],
  // gamma = [[0, -I], [-I, D + Y' diag(alpha) Y]], R the upper triangle of S'Y, D its diagonal.
  Mat R = (S.transpose() * Y).triangularView<Eigen::Upper>();
  Mat B = R.triangularView<Eigen::Upper>().solve(S.transpose());  // R^-1 S', m x n
  Mat A = a.asDiagonal() * Y;
  Mat C = Y.transpose() * A;
  C.diagonal() += R.diagonal();
  Mat beta(n, 2 * m), gamma = Mat::Zero(2 * m, 2 * m);
  beta << A, B.transpose();
  gamma.topRightCorner(m, m) = -Mat::Identity(m, m);
  gamma.bottomLeftCorner(m, m) = -Mat::Identity(m, m);
  gamma.bottomRightCorner(m, m) = C;
  if (!beta.allFinite() || !gamma.allFinite()) return;
  beta_.assign(beta.data(), beta.data() + beta.size());
  gamma_.assign(gamma.data(), gamma.data() + gamma.size());

  // mean = x + H g (a quasi-Newton step up the log density)
  Vec hg = a.cwiseProduct(gradient) + beta * (gamma * (beta.transpose() * gradient));
  Vec mean = view(x) + hg;
  if (!mean.allFinite()) return;
  mean_ = to_std(mean);

  dense_ = 2 * m >= n;
  if (dense_) {
    Mat H = beta * gamma * beta.transpose();
    H.diagonal() += a;
    H = 0.5 * (H + H.transpose()).eval();
    Eigen::LLT<Mat> llt(H);
    if (llt.info() != Eigen::Success) return;
    Mat L = llt.matrixL();
    if (!(L.diagonal().array() > 0).all() || !L.allFinite()) return;
    log_det_factor_ = L.diagonal().array().log().sum();
    factor_.assign(L.data(), L.data() + L.size());
  } else {
    // H = diag(alpha)^1/2 (I + Q Rq gamma Rq' Q') diag(alpha)^1/2 with Q Rq the thin QR of
    // diag(alpha)^-1/2 beta; with Lbar Lbar' = I + Rq gamma Rq', F = diag(alpha)^1/2 (Q Lbar Q' + I - Q Q')
    // satisfies F F' = H, and log |F| = log |Lbar| + sum(log alpha) / 2.
    Mat scaled = a.cwiseSqrt().cwiseInverse().asDiagonal() * beta;
    Eigen::HouseholderQR<Mat> qr(scaled);
    const Eigen::Index r = 2 * m;
    Mat Q = qr.householderQ() * Mat::Identity(n, r);
    Mat Rq = qr.matrixQR().topLeftCorner(r, r).triangularView<Eigen::Upper>();
    Mat M = Rq * gamma * Rq.transpose();
    M.diagonal().array() += 1.0;
    M = 0.5 * (M + M.transpose()).eval();
    Eigen::LLT<Mat> llt(M);
    if (llt.info() != Eigen::Success) return;
    Mat Lbar = llt.matrixL();
    if (!(Lbar.diagonal().array() > 0).all() || !Lbar.allFinite() || !Q.allFinite()) return;
    log_det_factor_ = Lbar.diagonal().array().log().sum() + 0.5 * a.array().log().sum();
    q_.assign(Q.data(), Q.data() + Q.size());
    lbar_.assign(Lbar.data(), Lbar.data() + Lbar.size());
  }
  ok_ = std::isfinite(log_det_factor_);
}

std::vector<double> LbfgsNormal::transform(const std::vector<double>& u, double* log_density) const {
  const auto n = static_cast<Eigen::Index>(n_);
  Eigen::Map<const Vec> uu(u.data(), n);
  if (log_density) *log_density = -log_det_factor_ - 0.5 * (uu.squaredNorm() + static_cast<double>(n) * kLog2Pi);
  Vec z(n);
  if (dense_) {
    Eigen::Map<const Mat> L(factor_.data(), n, n);
    z = L.triangularView<Eigen::Lower>() * uu;
  } else {
    const auto r = static_cast<Eigen::Index>(r_);
    Eigen::Map<const Mat> Q(q_.data(), n, r), Lbar(lbar_.data(), r, r);
    Vec v = Q.transpose() * uu;
    Vec w = Lbar.triangularView<Eigen::Lower>() * v - v;
    z = Q * w + uu;
    z.array() *= view(alpha_).array().sqrt();
  }
  z += view(mean_);
  return to_std(z);
}

std::vector<double> LbfgsNormal::covariance() const {
  const auto n = static_cast<Eigen::Index>(n_), r = static_cast<Eigen::Index>(r_);
  Mat H = Mat::Zero(n, n);
  if (r > 0) {
    Eigen::Map<const Mat> beta(beta_.data(), n, r), gamma(gamma_.data(), r, r);
    H = beta * gamma * beta.transpose();
  }
  H.diagonal() += view(alpha_);
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> rows = 0.5 * (H + H.transpose());
  return std::vector<double>(rows.data(), rows.data() + rows.size());
}

void validate(const PathfinderOptions& o) {
  auto fail = [](const std::string& what) { throw UserError("pathfinder: " + what); };
  if (o.paths < 1 || o.paths > 1024) fail("--num-paths must be from 1 to 1024 (got " + std::to_string(o.paths) + ")");
  if (o.history < 1 || o.history > 1000) fail("--history-size must be from 1 to 1000 (got " + std::to_string(o.history) + ")");
  if (o.elbo_draws < 1 || o.elbo_draws > 100000)
    fail("--num-elbo-draws must be from 1 to 100000 (got " + std::to_string(o.elbo_draws) + ")");
  if (o.draws < 1 || o.draws > 1000000) fail("--draws must be from 1 to 1000000 (got " + std::to_string(o.draws) + ")");
  if (o.threads < 0) fail("--threads must be positive (or 0: one per path, at most one per core)");
  if (!(o.init_radius >= 0) || !std::isfinite(o.init_radius)) fail("--init: the radius must be a non-negative number");
  if (o.lbfgs.max_iterations < 1) fail("--iter must be positive");
}

PathResult run_pathfinder_path(const BoundModel& model, const PathfinderOptions& o, int path) {
  PathResult r;
  r.path = path;
  RandomEngine rng = random_engine(o.seed, kPathStreamBase + static_cast<uint64_t>(path));
  const size_t n = static_cast<size_t>(model.num_unconstrained());
  try {
    r.initial_point = find_initial_point(model, o.init, true, rng, o.init_radius);
  } catch (const UserError& e) {
    r.failed = true;
    r.message = e.what();
    return r;
  }
  std::normal_distribution<double> normal;
  auto standard_normal = [&] {
    std::vector<double> u(n);
    for (double& v : u) v = normal(rng);
    return u;
  };
  // A draw's log density; not finite (a failed check, a singularity): -inf, weight 0.
  auto log_p = [&](const std::vector<double>& z) {
    ++r.evaluations;
    double v = model.log_density(z.data(), nullptr, true);
    return std::isfinite(v) ? v : -INFINITY;
  };

  const int K = o.elbo_draws;
  std::vector<std::vector<double>> s_history, y_history;  // the last J accepted pairs, oldest first
  std::vector<double> alpha(n, 1.0), previous_x, previous_g;
  // The normal at an iterate and its ELBO from K draws; kept when the ELBO is the highest so far.
  auto consider = [&](int iteration, const std::vector<double>& x, const std::vector<double>& g) {
    LbfgsNormal q(x, g, alpha, s_history, y_history);
    if (!q.ok()) return;
    std::vector<std::vector<double>> z;
    std::vector<double> lp, lp_approx;
    double sum = 0;
    for (int k = 0; k < K; ++k) {
      double la = 0;
      z.push_back(q.transform(standard_normal(), &la));
      lp.push_back(log_p(z.back()));
      lp_approx.push_back(la);
      sum += lp.back() - la;
    }
    const double elbo = sum / K;
    if (!(elbo > r.elbo)) return;  // -inf and NaN never win; the first of equal ELBOs does
    r.elbo = elbo;
    r.best_iteration = iteration;
    r.approximation = std::move(q);
    r.z = std::move(z);
    r.lp = std::move(lp);
    r.lp_approx = std::move(lp_approx);
  };

  LbfgsOptions lbfgs = o.lbfgs;
  lbfgs.history = o.history;
  lbfgs.on_iterate = [&](int iteration, const double* xp, double, const double* gp) {
    std::vector<double> x(xp, xp + n), g(gp, gp + n);
    if (iteration > 0) {
      std::vector<double> s(n), y(n);
      for (size_t i = 0; i < n; ++i) {
        s[i] = x[i] - previous_x[i];
        y[i] = previous_g[i] - g[i];  // the change of the gradient of -log p
      }
      if (acceptable_curvature(s, y)) {
        alpha = update_inverse_hessian_diagonal(alpha, s, y);
        s_history.push_back(std::move(s));
        y_history.push_back(std::move(y));
        if (s_history.size() > static_cast<size_t>(o.history)) {
          s_history.erase(s_history.begin());
          y_history.erase(y_history.begin());
        }
      }
      consider(iteration, x, g);
    }
    previous_x = std::move(x);
    previous_g = std::move(g);
  };
  auto f = [&model](const double* x, double* g) { return model.log_density(x, g, true); };
  LbfgsResult l = maximize_lbfgs(f, r.initial_point, lbfgs);
  r.status = l.status;
  r.iterations = l.iterations;
  r.message = l.message;
  r.evaluations += l.evaluations;
  if (l.status == LbfgsStatus::kDiverged || l.status == LbfgsStatus::kBadInitialPoint) {
    r.failed = true;
    r.message = "L-BFGS " + std::string(l.status == LbfgsStatus::kDiverged ? "diverged" : "could not start") + ": " +
                l.message;
    return r;
  }
  // No step was taken (the gradient is zero at the initial point): the only
  // information is there, with H = I.
  if (r.best_iteration < 0 && l.iterations == 0 && !previous_x.empty()) consider(0, previous_x, previous_g);
  if (r.best_iteration < 0) {
    r.failed = true;
    r.message = "no iterate of the L-BFGS path (" + std::to_string(l.iterations) +
                " iterations) gave a normal approximation with a finite ELBO: the log density is not finite at "
                "the approximations' draws, or their covariance is not positive definite";
    return r;
  }
  // The path's draws: the K draws of the chosen ELBO estimate, then new ones (as Stan).
  const auto draws = static_cast<size_t>(o.draws);
  if (r.z.size() > draws) {
    r.z.resize(draws);
    r.lp.resize(draws);
    r.lp_approx.resize(draws);
  }
  r.z.reserve(draws);
  while (r.z.size() < draws) {
    double la = 0;
    r.z.push_back(r.approximation.transform(standard_normal(), &la));
    r.lp.push_back(log_p(r.z.back()));
    r.lp_approx.push_back(la);
  }
  return r;
}

PathfinderRun run_pathfinder(const BoundModel& model, const PathfinderOptions& o) {
  validate(o);
  if (model.num_unconstrained() == 0) throw UserError("pathfinder: the model has no parameters");
  model.compile(true);  // before the threads: the first call of a kind compiles it
  PathfinderRun run;
  run.paths.resize(static_cast<size_t>(o.paths));
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  run.threads = std::min(o.threads > 0 ? o.threads : cores, o.paths);
  WorkerPool pool(run.threads);
  pool.run(o.paths, [&](int64_t p) {
    run.paths[static_cast<size_t>(p)] = run_pathfinder_path(model, o, static_cast<int>(p));
  });
  bool any = false;
  for (const PathResult& p : run.paths) any = any || !p.failed;
  if (!any)
    throw UserError(o.paths == 1 ? "pathfinder: the path failed: " + run.paths[0].message
                                 : "pathfinder: every path failed; path 1: " + run.paths[0].message);
  return run;
}

}  // namespace latent
