#include "runtime/inference/adaptation.hpp"

#include "common/source.hpp"

#include <cmath>

namespace latent {

// ---- step size ------------------------------------------------------------------------------

void StepSizeAdaptation::restart() {
  counter_ = 0;
  s_bar_ = 0;
  x_bar_ = 0;
}

double StepSizeAdaptation::learn(double accept_stat) {
  counter_ += 1;
  double a = std::isnan(accept_stat) ? 0 : std::min(accept_stat, 1.0);
  double eta = 1.0 / (counter_ + kT0);
  s_bar_ = (1.0 - eta) * s_bar_ + eta * (delta_ - a);
  double x = mu_ - s_bar_ * std::sqrt(counter_) / kGamma;
  double x_eta = std::pow(counter_, -kKappa);
  x_bar_ = (1.0 - x_eta) * x_bar_ + x_eta * x;
  return std::exp(x);
}

double StepSizeAdaptation::final_step_size() const { return std::exp(x_bar_); }

// ---- windows --------------------------------------------------------------------------------

AdaptationWindows::AdaptationWindows(int64_t num_warmup, int64_t init_buffer, int64_t term_buffer, int64_t base_window)
    : num_warmup_(num_warmup) {
  if (num_warmup < 20) return;
  enabled_ = true;
  if (init_buffer + base_window + term_buffer > num_warmup) {
    // Stan truncates 15% and 10% to integers. (Stan 2.x then keeps its windows
    // unset, so the metric is never updated below 150 iterations; here the
    // shrunk schedule is applied, as its message says.)
    shrunk_ = true;
    init_buffer = static_cast<int64_t>(0.15 * static_cast<double>(num_warmup));
    term_buffer = static_cast<int64_t>(0.1 * static_cast<double>(num_warmup));
    base_window = num_warmup - (init_buffer + term_buffer);
  }
  init_buffer_ = init_buffer;
  term_buffer_ = term_buffer;
  base_window_ = base_window;
  window_size_ = base_window;
  window_end_ = init_buffer + base_window - 1;
}

bool AdaptationWindows::in_window(int64_t counter) const {
  return enabled_ && counter >= init_buffer_ && counter < num_warmup_ - term_buffer_ && counter != num_warmup_;
}

bool AdaptationWindows::ends_window(int64_t counter) const {
  return enabled_ && counter == window_end_ && counter != num_warmup_;
}

void AdaptationWindows::next_window(int64_t counter) {
  const int64_t last = num_warmup_ - term_buffer_ - 1;  // the last iteration of the last window
  if (window_end_ == last) return;
  window_size_ *= 2;
  window_end_ = counter + window_size_;
  if (window_end_ == last) return;
  // If the window after this one would not fit, this one stretches to the end.
  if (window_end_ + 2 * window_size_ >= num_warmup_ - term_buffer_) window_end_ = last;
}

// ---- Welford --------------------------------------------------------------------------------

WelfordEstimator::WelfordEstimator(int64_t n, bool dense) : dense_(dense) {
  mean_ = Eigen::VectorXd::Zero(n);
  if (dense)
    m2_matrix_ = Eigen::MatrixXd::Zero(n, n);
  else
    m2_ = Eigen::VectorXd::Zero(n);
}

void WelfordEstimator::restart() {
  count_ = 0;
  mean_.setZero();
  if (dense_)
    m2_matrix_.setZero();
  else
    m2_.setZero();
}

void WelfordEstimator::add(const Eigen::VectorXd& q) {
  ++count_;
  Eigen::VectorXd delta = q - mean_;
  mean_ += delta / static_cast<double>(count_);
  if (dense_)
    m2_matrix_.noalias() += (q - mean_) * delta.transpose();
  else
    m2_ += (q - mean_).cwiseProduct(delta);
}

Eigen::VectorXd WelfordEstimator::variance() const {
  if (count_ < 2) return Eigen::VectorXd::Zero(mean_.size());
  return m2_ / static_cast<double>(count_ - 1);
}

Eigen::MatrixXd WelfordEstimator::covariance() const {
  if (count_ < 2) return Eigen::MatrixXd::Zero(mean_.size(), mean_.size());
  return m2_matrix_ / static_cast<double>(count_ - 1);
}

// ---- metric ---------------------------------------------------------------------------------

MetricAdaptation::MetricAdaptation(int64_t n, bool dense, int64_t num_warmup)
    : dense_(dense), windows_(num_warmup), estimator_(n, dense) {}

bool MetricAdaptation::learn(int64_t counter, const Eigen::VectorXd& q, Eigen::VectorXd& inverse_diagonal,
                             Eigen::MatrixXd& inverse_matrix) {
  if (windows_.in_window(counter)) estimator_.add(q);
  if (!windows_.ends_window(counter)) return false;
  windows_.next_window(counter);
  // Shrink towards 1e-3 * I, with weight 5 / (n + 5), as Stan does.
  const double n = static_cast<double>(estimator_.count());
  const double keep = n / (n + 5.0), shrink = 1e-3 * 5.0 / (n + 5.0);
  bool finite;
  if (dense_) {
    Eigen::MatrixXd covariance = estimator_.covariance();
    inverse_matrix = keep * 0.5 * (covariance + covariance.transpose());  // symmetric to the last bit
    inverse_matrix.diagonal().array() += shrink;
    finite = inverse_matrix.allFinite();
  } else {
    inverse_diagonal = (keep * estimator_.variance()).array() + shrink;
    finite = inverse_diagonal.allFinite();
  }
  if (!finite)
    throw UserError("numerical overflow in the metric adaptation: the sampler met extreme values on the "
                    "unconstrained scale; the posterior may be too wide or improper");
  estimator_.restart();
  return true;
}

}  // namespace latent
