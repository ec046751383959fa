// The Laplace approximation. See laplace.hpp.
#include "runtime/inference/laplace.hpp"

#include "runtime/optim/finite_difference_hessian.hpp"

#include <Eigen/Cholesky>
#include <Eigen/Core>

#include <cmath>
#include <limits>
#include <sstream>

namespace latent {

namespace {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// "sigma" or "beta (unconstrained coordinate 2 of 3)" for unconstrained index i.
std::string coordinate_name(const BoundModel& model, size_t i) {
  for (const ParameterInfo& p : model.parameters()) {
    auto offset = static_cast<size_t>(p.unconstrained_offset), size = static_cast<size_t>(p.unconstrained_size);
    if (i < offset || i >= offset + size) continue;
    if (size == 1) return p.name;
    return p.name + " (unconstrained coordinate " + std::to_string(i - offset + 1) + " of " + std::to_string(size) + ")";
  }
  return "unconstrained coordinate " + std::to_string(i + 1);
}

}  // namespace

LaplaceApproximation::LaplaceApproximation(const BoundModel& model, std::vector<double> mode)
    : mode_(std::move(mode)), n_(mode_.size()) {
  std::vector<double> g(n_);
  log_density_ = model.log_density(mode_.data(), g.data(), true);
  if (!std::isfinite(log_density_))
    throw UserError("Laplace approximation: the log density is not finite at the mode");
  hessian_ = finite_difference_hessian(
      [&model](const double* x, double* grad) { model.log_density(x, grad, true); }, mode_);
  for (size_t k = 0; k < hessian_.size(); ++k)
    if (!std::isfinite(hessian_[k]))
      throw UserError("Laplace approximation: the Hessian at the mode is not finite (in the direction of " +
                      coordinate_name(model, k % n_) + "): the log density or its gradient is not finite next "
                      "to the mode");
  for (size_t i = 0; i < n_; ++i)
    if (!(hessian_[i * n_ + i] < 0)) {
      std::ostringstream s;
      s << "Laplace approximation: the negative Hessian at the mode is not positive definite: the curvature of "
           "the log density in the direction of "
        << coordinate_name(model, i) << " is " << hessian_[i * n_ + i]
        << " (not negative): the mode is not a strict maximum there (a flat or improper posterior, or an "
           "optimisation that stopped short)";
      throw UserError(s.str());
    }
  Eigen::Map<const RowMatrix> H(hessian_.data(), static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_));
  Eigen::LLT<Eigen::MatrixXd> llt(-H);
  if (llt.info() != Eigen::Success)
    throw UserError("Laplace approximation: the negative Hessian at the mode is not positive definite (the "
                    "posterior is flat or curves upwards along a combination of parameters; the mode may be a "
                    "saddle point, or the posterior improper)");
  RowMatrix L = llt.matrixL();
  cholesky_.assign(L.data(), L.data() + n_ * n_);
}

std::vector<double> LaplaceApproximation::covariance() const {
  Eigen::Map<const RowMatrix> L(cholesky_.data(), static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_));
  Eigen::MatrixXd inv = Eigen::MatrixXd::Identity(static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_));
  L.triangularView<Eigen::Lower>().solveInPlace(inv);           // L^-1
  RowMatrix cov = inv.transpose() * inv;                          // L^-T L^-1 = (L L^T)^-1
  return std::vector<double>(cov.data(), cov.data() + n_ * n_);
}

std::vector<double> LaplaceApproximation::draw(std::mt19937_64& rng, double* log_g) const {
  std::normal_distribution<double> normal;
  Eigen::VectorXd eps(static_cast<Eigen::Index>(n_));
  for (Eigen::Index i = 0; i < eps.size(); ++i) eps[i] = normal(rng);
  if (log_g) *log_g = -0.5 * eps.squaredNorm();
  Eigen::Map<const RowMatrix> L(cholesky_.data(), static_cast<Eigen::Index>(n_), static_cast<Eigen::Index>(n_));
  Eigen::VectorXd offset = L.transpose().triangularView<Eigen::Upper>().solve(eps);  // L^T offset = eps
  std::vector<double> z(mode_);
  for (size_t i = 0; i < n_; ++i) z[i] += offset[static_cast<Eigen::Index>(i)];
  return z;
}

}  // namespace latent
