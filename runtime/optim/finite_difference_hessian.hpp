// The Hessian of a function from its compiled gradient, for the Laplace
// approximation and DADVI's linear-response covariance: the symbolic gradient is
// exact, so differences of it lose only one order of accuracy.
#pragma once

#include <functional>
#include <vector>

namespace latent {

// n x n Hessian (row-major) of the function whose gradient `gradient(x, g)`
// writes, by fourth-order central differences of the gradient (step
// eps^(1/5) max(1, |x_i|)), symmetrised as (H + H^T) / 2.
std::vector<double> finite_difference_hessian(const std::function<void(const double* x, double* grad)>& gradient,
                                              const std::vector<double>& x);

}  // namespace latent
