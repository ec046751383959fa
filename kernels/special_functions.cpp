// Special functions called from generated code (Boost.Math: accurate and well kept).
#include "kernels/kernels.hpp"

#include <boost/math/special_functions/beta.hpp>
#include <boost/math/special_functions/digamma.hpp>
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
