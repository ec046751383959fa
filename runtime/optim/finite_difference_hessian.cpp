// Hessians by finite differences of a gradient. See finite_difference_hessian.hpp.
#include "runtime/optim/finite_difference_hessian.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace latent {

std::vector<double> finite_difference_hessian(const std::function<void(const double*, double*)>& gradient,
                                              const std::vector<double>& x) {
  const size_t n = x.size();
  // Fourth-order differences: truncation error ~h^4, rounding ~eps / h, balanced at h ~ eps^(1/5).
  const double base = std::pow(std::numeric_limits<double>::epsilon(), 0.2);
  std::vector<double> h(n * n), point(x), g(n);
  std::vector<double> column(n);
  for (size_t i = 0; i < n; ++i) {
    const double step = base * std::max(1.0, std::fabs(x[i]));
    std::fill(column.begin(), column.end(), 0.0);
    for (auto [offset, weight] : {std::pair{2.0, -1.0}, {1.0, 8.0}, {-1.0, -8.0}, {-2.0, 1.0}}) {
      point[i] = x[i] + offset * step;
      gradient(point.data(), g.data());
      for (size_t j = 0; j < n; ++j) column[j] += weight * g[j];
    }
    point[i] = x[i];
    for (size_t j = 0; j < n; ++j) h[j * n + i] = column[j] / (12 * step);
  }
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < i; ++j) h[i * n + j] = h[j * n + i] = 0.5 * (h[i * n + j] + h[j * n + i]);
  return h;
}

}  // namespace latent
