#include "runtime/inference/initial_point.hpp"

#include <cmath>

namespace latent {

std::vector<double> find_initial_point(const BoundModel& m, const DataSet* init, bool jacobian,
                                       std::mt19937_64& rng, double radius) {
  if (!(radius >= 0) || !std::isfinite(radius))
    throw UserError("the initial radius (--init R) must be a finite number, 0 or more");
  auto finite_at = [&](const std::vector<double>& theta) {
    std::vector<double> g(theta.size());
    double lp = m.log_density(theta.data(), g.data(), jacobian);
    if (!std::isfinite(lp)) return false;
    for (double x : g)
      if (!std::isfinite(x)) return false;
    return true;
  };
  if (init) {
    std::vector<double> theta = m.unconstrain(*init, rng);
    if (finite_at(theta)) return theta;
    throw UserError("the log density is not finite at the initial values from " + init->source() + ":\n" +
                    m.diagnose(theta.data(), jacobian).text());
  }
  auto random_point = [&] {
    if (radius == 2) return m.random_point(rng);
    std::uniform_real_distribution<double> u(-radius, radius);
    std::vector<double> theta(static_cast<size_t>(m.num_unconstrained()));
    for (double& x : theta) x = radius > 0 ? u(rng) : 0.0;
    return theta;
  };
  const int attempts = radius > 0 ? 100 : 1;
  std::string first_reason;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    std::vector<double> theta = random_point();
    if (finite_at(theta)) return theta;
    if (first_reason.empty()) first_reason = m.diagnose(theta.data(), jacobian).text();
  }
  if (radius == 0) throw UserError("the log density is not finite at the initial point 0 (all unconstrained parameters zero):\n" + first_reason);
  throw UserError("no random initial point out of 100 has a finite log density; at the first one:\n" + first_reason);
}


}  // namespace latent
