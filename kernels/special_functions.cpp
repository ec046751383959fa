// Special functions called from generated code (Boost.Math: accurate and well kept).
#include "kernels/kernels.hpp"

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
