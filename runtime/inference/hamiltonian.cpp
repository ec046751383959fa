#include "runtime/inference/hamiltonian.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace latent {

std::string metric_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::unit: return "unit_e";
    case MetricKind::diagonal: return "diag_e";
    case MetricKind::dense: return "dense_e";
  }
  return "?";
}

EuclideanMetric::EuclideanMetric(MetricKind kind, int64_t n) : kind_(kind), n_(n) {
  if (kind == MetricKind::diagonal) inverse_diagonal_ = Eigen::VectorXd::Ones(n);
  if (kind == MetricKind::dense) {
    inverse_ = Eigen::MatrixXd::Identity(n, n);
    upper_ = Eigen::MatrixXd::Identity(n, n);
  }
}

void EuclideanMetric::set_inverse_diagonal(const Eigen::VectorXd& d) {
  if (kind_ != MetricKind::diagonal || d.size() != n_) throw std::invalid_argument("set_inverse_diagonal: not a diagonal metric of this size");
  for (int64_t i = 0; i < n_; ++i)
    if (!(d[i] > 0) || !std::isfinite(d[i])) throw std::invalid_argument("set_inverse_diagonal: elements must be positive and finite");
  inverse_diagonal_ = d;
}

void EuclideanMetric::set_inverse_matrix(const Eigen::MatrixXd& m) {
  if (kind_ != MetricKind::dense || m.rows() != n_ || m.cols() != n_)
    throw std::invalid_argument("set_inverse_matrix: not a dense metric of this size");
  Eigen::LLT<Eigen::MatrixXd> llt(m);
  if (llt.info() != Eigen::Success || !m.allFinite()) throw std::invalid_argument("set_inverse_matrix: not positive definite");
  inverse_ = m;
  upper_ = llt.matrixU();
}

double EuclideanMetric::kinetic_energy(const Eigen::VectorXd& p) const {
  switch (kind_) {
    case MetricKind::unit: return 0.5 * p.squaredNorm();
    case MetricKind::diagonal: return 0.5 * p.cwiseProduct(inverse_diagonal_).dot(p);
    case MetricKind::dense: return 0.5 * p.dot(inverse_ * p);
  }
  return 0;
}

void EuclideanMetric::velocity(const Eigen::VectorXd& p, Eigen::VectorXd& out) const {
  switch (kind_) {
    case MetricKind::unit: out = p; break;
    case MetricKind::diagonal: out = inverse_diagonal_.cwiseProduct(p); break;
    case MetricKind::dense: out.noalias() = inverse_ * p; break;
  }
}

void EuclideanMetric::draw_momentum(std::mt19937_64& rng, Eigen::VectorXd& p) const {
  p.resize(n_);
  for (int64_t i = 0; i < n_; ++i) p[i] = normal_(rng);
  switch (kind_) {
    case MetricKind::unit: break;
    case MetricKind::diagonal: p.array() /= inverse_diagonal_.array().sqrt(); break;
    // With M^-1 = U'U, p = U^-1 z has covariance U^-1 U^-T = (U'U)^-1 = M.
    case MetricKind::dense: upper_.triangularView<Eigen::Upper>().solveInPlace(p); break;
  }
}

Hamiltonian::Hamiltonian(LogDensityGradient log_density, EuclideanMetric& metric)
    : log_density_(std::move(log_density)), metric_(metric), velocity_(metric.size()) {}

void Hamiltonian::update_position(PhasePoint& z) {
  double lp = log_density_(z.q.data(), z.grad.data());
  ++gradient_evaluations_;
  z.log_density = std::isnan(lp) ? -std::numeric_limits<double>::infinity() : lp;
}

double Hamiltonian::energy(const PhasePoint& z) const {
  double h = -z.log_density + metric_.kinetic_energy(z.p);
  return std::isnan(h) ? std::numeric_limits<double>::infinity() : h;
}

double Hamiltonian::energy_and_velocity(const PhasePoint& z, Eigen::VectorXd& velocity) const {
  metric_.velocity(z.p, velocity);
  double h = -z.log_density + 0.5 * z.p.dot(velocity);
  return std::isnan(h) ? std::numeric_limits<double>::infinity() : h;
}

void Hamiltonian::leapfrog(PhasePoint& z, double epsilon) {
  z.p += 0.5 * epsilon * z.grad;
  metric_.velocity(z.p, velocity_);
  z.q += epsilon * velocity_;
  update_position(z);
  z.p += 0.5 * epsilon * z.grad;
}

}  // namespace latent
