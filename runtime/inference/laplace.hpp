// The Laplace approximation at a mode on the unconstrained scale, as CmdStan's
// `laplace` method: N(mode, (-H)^-1) with H the Hessian of the log density with
// the Jacobian at the mode (the mode found with the Jacobian, so that it is the
// maximum of the density being approximated). H comes from central finite
// differences of the compiled gradient, symmetrised.
#pragma once

#include "runtime/model/bound_model.hpp"

#include <functional>
#include <random>
#include <vector>

namespace latent {

class LaplaceApproximation {
 public:
  // Computes the Hessian of the log density (with the Jacobian) at `mode` and the
  // Cholesky factor of its negation. Throws UserError naming the problem (and the
  // parameter whose curvature is not negative, when one is) when -H is not
  // positive definite or not finite.
  LaplaceApproximation(const BoundModel& model, std::vector<double> mode);

  const std::vector<double>& mode() const { return mode_; }
  const std::vector<double>& hessian() const { return hessian_; }  // row-major
  double log_density_at_mode() const { return log_density_; }
  // (-H)^-1, row-major.
  std::vector<double> covariance() const;
  // z = mode + L^-T eps (L L^T = -H); log_g = -(1/2) eps' eps = (1/2) (z - mode)' H (z - mode),
  // CmdStan's unnormalised log density of the approximation.
  std::vector<double> draw(std::mt19937_64& rng, double* log_g) const;

 private:
  std::vector<double> mode_, hessian_, cholesky_;  // cholesky_: lower L, row-major
  double log_density_ = 0;
  size_t n_ = 0;
};

}  // namespace latent
