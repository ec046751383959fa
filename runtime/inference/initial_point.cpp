#include "runtime/inference/initial_point.hpp"

#include <cmath>

namespace latent {

std::vector<double> find_initial_point(const BoundModel& m, const DataSet* init, bool jacobian,
                                       std::mt19937_64& rng) {
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
  std::string first_reason;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::vector<double> theta = m.random_point(rng);
    if (finite_at(theta)) return theta;
    if (first_reason.empty()) first_reason = m.diagnose(theta.data(), jacobian).text();
  }
  throw UserError("no random initial point out of 100 has a finite log density; at the first one:\n" + first_reason);
}


}  // namespace latent
