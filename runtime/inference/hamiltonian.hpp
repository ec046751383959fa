// The Hamiltonian system that HMC and NUTS simulate, as in Stan: a point of
// phase space (position q = the unconstrained parameters, momentum p), a
// Euclidean metric M (unit, diagonal or dense; Stan stores and adapts its
// inverse), the energy H = -log p(q) + p' M^-1 p / 2, and the leapfrog step.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <functional>
#include <random>
#include <string>

namespace latent {

enum class MetricKind { unit, diagonal, dense };

// Stan's names: "unit_e", "diag_e", "dense_e".
std::string metric_name(MetricKind kind);

// The log density at unconstrained q and its gradient (written to grad); NaN or
// -inf where the density is not defined.
using LogDensityGradient = std::function<double(const double* q, double* grad)>;

struct PhasePoint {
  Eigen::VectorXd q, p;
  Eigen::VectorXd grad;  // gradient of the log density at q
  double log_density = 0;
  explicit PhasePoint(int64_t n = 0) : q(Eigen::VectorXd::Zero(n)), p(Eigen::VectorXd::Zero(n)), grad(Eigen::VectorXd::Zero(n)) {}
};

class EuclideanMetric {
 public:
  EuclideanMetric(MetricKind kind, int64_t n);  // M = I
  MetricKind kind() const { return kind_; }
  int64_t size() const { return n_; }

  // The inverse metric: a diagonal (diagonal), a symmetric positive definite
  // matrix (dense). Throws std::invalid_argument for another kind or a matrix
  // that is not positive definite.
  void set_inverse_diagonal(const Eigen::VectorXd& inverse_diagonal);
  void set_inverse_matrix(const Eigen::MatrixXd& inverse);
  const Eigen::VectorXd& inverse_diagonal() const { return inverse_diagonal_; }
  const Eigen::MatrixXd& inverse_matrix() const { return inverse_; }

  double kinetic_energy(const Eigen::VectorXd& p) const;  // p' M^-1 p / 2
  // dH/dp = M^-1 p, the velocity (Stan's dtau_dp, the "sharp" momentum).
  void velocity(const Eigen::VectorXd& p, Eigen::VectorXd& out) const;
  // p ~ N(0, M).
  void draw_momentum(std::mt19937_64& rng, Eigen::VectorXd& p) const;

 private:
  MetricKind kind_;
  int64_t n_;
  Eigen::VectorXd inverse_diagonal_;  // diagonal
  Eigen::MatrixXd inverse_;           // dense
  Eigen::MatrixXd upper_;             // dense: U with U'U = M^-1 (then p = U^-1 z has covariance M)
  mutable std::normal_distribution<double> normal_;  // keeps its second draw: one per chain, never shared
};

class Hamiltonian {
 public:
  Hamiltonian(LogDensityGradient log_density, EuclideanMetric& metric);

  EuclideanMetric& metric() { return metric_; }
  const EuclideanMetric& metric() const { return metric_; }

  // Evaluates the log density and gradient at z.q; a NaN log density counts as
  // -inf (the point is outside the support).
  void update_position(PhasePoint& z);
  // H(z); +inf where the log density is not finite.
  double energy(const PhasePoint& z) const;
  // H(z) and the velocity M^-1 p, sharing the product with M^-1.
  double energy_and_velocity(const PhasePoint& z, Eigen::VectorXd& velocity) const;
  // One leapfrog step of size epsilon (negative: backwards in time).
  void leapfrog(PhasePoint& z, double epsilon);
  void velocity(const PhasePoint& z, Eigen::VectorXd& out) const { metric_.velocity(z.p, out); }

  int64_t gradient_evaluations() const { return gradient_evaluations_; }

 private:
  LogDensityGradient log_density_;
  EuclideanMetric& metric_;
  Eigen::VectorXd velocity_;
  int64_t gradient_evaluations_ = 0;
};

}  // namespace latent
