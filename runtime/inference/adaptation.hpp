// Stan's warm-up adaptation for HMC / NUTS:
//  - the step size by Nesterov dual averaging (Hoffman & Gelman 2014) towards
//    an average acceptance statistic of delta, with Stan's constants
//    gamma = 0.05, kappa = 0.75, t0 = 10 and mu = log(10 * epsilon);
//  - the metric (the inverse of the mass matrix) from the variance or covariance
//    of the draws of a window, regularised towards 1e-3 * I as Stan does, over
//    windows of 25, 50, 100, ... iterations between an initial buffer of 75 and a
//    terminal buffer of 50 (15% / 75% / 10% of the warm-up when it is shorter
//    than 150 iterations); each window's end restarts the step-size adaptation.
#pragma once

#include <Eigen/Dense>

#include <cstdint>

namespace latent {

class StepSizeAdaptation {
 public:
  explicit StepSizeAdaptation(double delta = 0.8) : delta_(delta) {}
  void set_mu(double mu) { mu_ = mu; }
  void restart();
  // After a transition with acceptance statistic `accept_stat`: the next step size.
  double learn(double accept_stat);
  // The step size for sampling: exp of the weighted average of log step sizes.
  double final_step_size() const;

  static constexpr double kGamma = 0.05, kKappa = 0.75, kT0 = 10;

 private:
  double delta_, mu_ = 0;
  double counter_ = 0, s_bar_ = 0, x_bar_ = 0;
};

// Where the warm-up iterations fall: the initial buffer (step size only), the
// metric windows, the terminal buffer (step size only).
class AdaptationWindows {
 public:
  // Without enough warm-up for the three stages they shrink to 15% / 75% / 10%;
  // below 20 iterations there is no metric adaptation (enabled() is false).
  AdaptationWindows(int64_t num_warmup, int64_t init_buffer = 75, int64_t term_buffer = 50, int64_t base_window = 25);
  bool enabled() const { return enabled_; }
  bool shrunk() const { return shrunk_; }
  int64_t init_buffer() const { return init_buffer_; }
  int64_t term_buffer() const { return term_buffer_; }
  int64_t base_window() const { return base_window_; }

  // Whether warm-up iteration `counter` (0-based) adds its draw to the window,
  // and whether it ends a window.
  bool in_window(int64_t counter) const;
  bool ends_window(int64_t counter) const;
  // After the window ending at `counter`: the end of the next one (doubling,
  // stretched to the terminal buffer when the following one would not fit).
  void next_window(int64_t counter);

 private:
  bool enabled_ = false, shrunk_ = false;
  int64_t num_warmup_, init_buffer_ = 0, term_buffer_ = 0, base_window_ = 0;
  int64_t window_size_ = 0, window_end_ = -1;  // the last iteration of the current window
};

// Welford's running mean and variance / covariance of the draws of a window.
class WelfordEstimator {
 public:
  WelfordEstimator(int64_t n, bool dense);
  void restart();
  void add(const Eigen::VectorXd& q);
  int64_t count() const { return count_; }
  Eigen::VectorXd variance() const;    // with denominator count - 1
  Eigen::MatrixXd covariance() const;

 private:
  bool dense_;
  int64_t count_ = 0;
  Eigen::VectorXd mean_, m2_;
  Eigen::MatrixXd m2_matrix_;
};

class MetricAdaptation {
 public:
  MetricAdaptation(int64_t n, bool dense, int64_t num_warmup);
  const AdaptationWindows& windows() const { return windows_; }
  // After warm-up iteration `counter` at position q: true when a window ended and
  // the new (regularised) inverse metric is in inverse_diagonal / inverse_matrix.
  // Throws UserError when it is not finite.
  bool learn(int64_t counter, const Eigen::VectorXd& q, Eigen::VectorXd& inverse_diagonal,
             Eigen::MatrixXd& inverse_matrix);

 private:
  bool dense_;
  AdaptationWindows windows_;
  WelfordEstimator estimator_;
};

}  // namespace latent
