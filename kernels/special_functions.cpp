// Special functions called from generated code (Boost.Math: accurate and well kept).
#include "kernels/kernels.hpp"

#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/digamma.hpp>
#include <boost/math/special_functions/erf.hpp>
#include <boost/math/special_functions/gamma.hpp>
#include <boost/math/special_functions/trigamma.hpp>

#include <cmath>
#include <limits>

namespace {
// Stan's conventions: errors become NaN/inf values, never exceptions in generated code.
using Policy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::ignore_error>,
    boost::math::policies::pole_error<boost::math::policies::ignore_error>,
    boost::math::policies::overflow_error<boost::math::policies::ignore_error>,
    boost::math::policies::evaluation_error<boost::math::policies::ignore_error>>;
}  // namespace

extern "C" double latent_rt_lgamma(double x) {
  int sign;
  return lgamma_r(x, &sign);  // thread-safe: does not write the global signgam
}

extern "C" double latent_rt_digamma(double x) { return boost::math::digamma(x, Policy()); }

extern "C" double latent_rt_trigamma(double x) { return boost::math::trigamma(x, Policy()); }

// P(T <= -|t|) = I_x(nu / 2, 1 / 2) / 2 with x = nu / (nu + t^2), the regularised
// incomplete beta function; near t = 0 (t^2 < nu) through the complement,
// I_x(a, b) = 1 - I_{1-x}(b, a), whose argument 1 - x = t^2 / (nu + t^2) is exact.
// The log CDF is log(tail) for t < 0 and log1p(-tail) otherwise.
extern "C" double latent_rt_student_t_lcdf(double t, double nu) {
  if (std::isnan(t) || std::isnan(nu) || !(nu > 0)) return std::numeric_limits<double>::quiet_NaN();
  if (std::isinf(t)) return t < 0 ? -std::numeric_limits<double>::infinity() : 0.0;
  double t2 = t * t, tail;
  if (t2 < nu)
    tail = 0.5 * boost::math::ibetac(0.5, 0.5 * nu, t2 / (nu + t2), Policy());
  else
    tail = 0.5 * boost::math::ibeta(0.5 * nu, 0.5, nu / (nu + t2), Policy());
  return t < 0 ? std::log(tail) : std::log1p(-tail);
}

// Above -37.5, log(erfc(-x / sqrt 2) / 2) in double precision (erfc keeps its
// relative accuracy far into the tail; log1p of the small complement above 0).
// Below, erfc underflows: the asymptotic series of Mills' ratio,
// log Phi(x) = -x^2/2 - log(-x) - log sqrt(2 pi) + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8).
extern "C" double latent_rt_log_phi(double x) {
  if (std::isnan(x)) return x;
  if (x > 0) return std::log1p(-0.5 * std::erfc(x / std::sqrt(2.0)));
  if (x > -37.5) return std::log(0.5 * std::erfc(-x / std::sqrt(2.0)));
  if (std::isinf(x)) return -std::numeric_limits<double>::infinity();
  double r = 1 / (x * x);
  double series = 1 - r * (1 - r * (3 - r * (15 - r * 105)));
  return -0.5 * x * x - std::log(-x) - 0.91893853320467274 + std::log(series);
}

extern "C" double latent_rt_inv_phi(double p) {
  if (!(p >= 0 && p <= 1)) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  return -std::sqrt(2.0) * boost::math::erfc_inv(2 * p, Policy());
}

// Whichever of P and Q is the smaller is computed directly, the other as log1p(-it).
extern "C" double latent_rt_log_gamma_p(double x, double a) {
  if (std::isnan(x) || std::isnan(a) || !(a > 0) || x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return -std::numeric_limits<double>::infinity();
  if (std::isinf(x)) return 0;
  double p = boost::math::gamma_p(a, x, Policy());
  return p < 0.5 ? std::log(p) : std::log1p(-boost::math::gamma_q(a, x, Policy()));
}

extern "C" double latent_rt_log_gamma_q(double x, double a) {
  if (std::isnan(x) || std::isnan(a) || !(a > 0) || x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) return 0;
  if (std::isinf(x)) return -std::numeric_limits<double>::infinity();
  double q = boost::math::gamma_q(a, x, Policy());
  return q < 0.5 ? std::log(q) : std::log1p(-boost::math::gamma_p(a, x, Policy()));
}
