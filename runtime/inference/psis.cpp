// Pareto-smoothed importance sampling. See psis.hpp.
#include "runtime/inference/psis.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace latent {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kMinGridPoints = 30;  // loo's min_grid_pts
constexpr double kGridPrior = 3;    // Zhang & Stephens' prior on the grid of theta
constexpr size_t kMinTail = 5;      // fewer tail draws: no fit (loo's enough_tail_samples)
}  // namespace

GeneralizedPareto fit_generalized_pareto(const std::vector<double>& x, bool weakly_informative_prior) {
  GeneralizedPareto out{kInf, std::nan("")};
  const size_t n = x.size();
  if (n == 0) return out;
  const double nd = static_cast<double>(n);
  // The first quartile (R's x[floor(N/4 + 1/2)], 1-based); not above the minimum:
  // far from a generalized Pareto distribution.
  size_t q = static_cast<size_t>(std::floor(nd / 4 + 0.5));
  const double xstar = x[q == 0 ? 0 : q - 1];
  if (!(xstar > x[0])) return out;

  // Profile likelihood of theta = -k / sigma on Zhang & Stephens' grid; the
  // estimate is its posterior mean.
  const int m = kMinGridPoints + static_cast<int>(std::floor(std::sqrt(nd)));
  std::vector<double> theta(static_cast<size_t>(m)), log_lik(static_cast<size_t>(m));
  for (int j = 1; j <= m; ++j) {
    double t = 1 / x[n - 1] + (1 - std::sqrt(m / (j - 0.5))) / kGridPrior / xstar;
    double k = 0;
    for (double v : x) k += std::log1p(-t * v);
    k /= nd;
    double l = nd * (std::log(-t / k) - k - 1);
    theta[static_cast<size_t>(j - 1)] = t;
    log_lik[static_cast<size_t>(j - 1)] = std::isnan(l) ? -kInf : l;  // theta = 0 exactly: no information
  }
  const double top = *std::max_element(log_lik.begin(), log_lik.end());
  if (!std::isfinite(top)) return out;
  double total = 0, theta_hat = 0;
  for (size_t j = 0; j < theta.size(); ++j) {
    double w = std::exp(log_lik[j] - top);
    total += w;
    theta_hat += w * theta[j];
  }
  theta_hat /= total;
  double k = 0;
  for (double v : x) k += std::log1p(-theta_hat * v);
  k /= nd;
  const double sigma = -k / theta_hat;
  // loo's weakly informative prior: a normal centred on 0.5, worth 10 observations.
  if (weakly_informative_prior) k = (k * nd + 0.5 * 10) / (nd + 10);
  if (std::isnan(k)) return out;
  return {k, sigma};
}

double generalized_pareto_quantile(double p, double k, double sigma) {
  if (!(sigma > 0)) return std::nan("");
  if (k == 0) return -sigma * std::log1p(-p);
  return sigma * std::expm1(-k * std::log1p(-p)) / k;
}

size_t psis_tail_length(size_t draws) {
  double s = static_cast<double>(draws);
  return static_cast<size_t>(std::ceil(std::min(0.2 * s, 3 * std::sqrt(s))));
}

PsisResult psis(const std::vector<double>& log_ratios) {
  const size_t n = log_ratios.size();
  PsisResult r;
  r.pareto_k = kInf;
  double top = -kInf;
  for (double v : log_ratios) {
    if (v == kInf) throw std::invalid_argument("psis: a log importance ratio is +inf");
    if (v > top) top = v;  // NaN compares false
  }
  if (!std::isfinite(top)) throw std::invalid_argument("psis: no log importance ratio is finite");
  // Shifted so that the largest is 0 (exp cannot overflow); NaN: weight 0.
  std::vector<double> lw(n);
  for (size_t i = 0; i < n; ++i) lw[i] = std::isnan(log_ratios[i]) ? -kInf : log_ratios[i] - top;

  // Ratios equal up to rounding: the approximation is the posterior up to a constant
  // (a Laplace or variational fit of a Gaussian posterior). A generalized Pareto
  // fit to rounding noise would mean nothing: k̂ = -inf, the limit of bounded weights.
  bool constant = true;
  for (double v : lw) constant = constant && (v == -kInf || v >= -1e-9 * std::max(1.0, std::fabs(top)));
  const size_t m = psis_tail_length(n);
  if (constant) {
    r.pareto_k = -kInf;
  } else if (m >= kMinTail && m < n) {
    r.tail_length = m;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lw[a] < lw[b]; });
    const double tail_min = lw[order[n - m]], tail_max = lw[order[n - 1]];
    if (std::fabs(tail_max - tail_min) >= std::numeric_limits<double>::epsilon() / 100) {
      const double cutoff = std::exp(lw[order[n - m - 1]]);  // the largest ratio below the tail
      std::vector<double> excess(m);
      for (size_t i = 0; i < m; ++i) excess[i] = std::exp(lw[order[n - m + i]]) - cutoff;
      GeneralizedPareto fit = fit_generalized_pareto(excess);
      r.pareto_k = fit.k;
      if (std::isfinite(fit.k))
        for (size_t i = 0; i < m; ++i) {
          double p = (static_cast<double>(i) + 0.5) / static_cast<double>(m);
          lw[order[n - m + i]] = std::log(generalized_pareto_quantile(p, fit.k, fit.sigma) + cutoff);
        }
    }
    // all tail ratios equal: no fit, k̂ stays inf (as loo, which warns)
  }
  // Truncated at the largest raw ratio, then shifted back.
  double total = 0;
  for (double& v : lw) {
    if (v > 0) v = 0;
    total += std::exp(v);
  }
  r.weights.resize(n);
  r.log_weights.resize(n);
  for (size_t i = 0; i < n; ++i) {
    r.weights[i] = std::exp(lw[i]) / total;
    r.log_weights[i] = lw[i] + top;
  }
  double squares = 0;
  for (double w : r.weights) squares += w * w;
  r.ess = 1 / squares;
  return r;
}

const char* pareto_k_verdict(double k) {
  if (k < 0.5) return "good";
  if (k <= 0.7) return "acceptable";
  return "unreliable";  // also inf and NaN
}

std::string pareto_k_message(double k) {
  std::ostringstream s;
  s.precision(2);
  s << std::fixed << "Pareto k-hat = " << k << ": " << pareto_k_verdict(k);
  if (k == -INFINITY)
    s << " (the importance ratios are constant: the approximation equals the posterior up to a constant)";
  else if (k < 0.5)
    s << " (< 0.5: the approximation is close to the posterior)";
  else if (k <= 0.7)
    s << " (0.5 to 0.7: usable; PSIS-resampled draws (--psis-resample) correct it)";
  else
    s << " (> 0.7: the approximation is far from the posterior; estimates from its draws are unreliable)";
  return s.str();
}

std::vector<size_t> resample_indices(const std::vector<double>& weights, size_t count, std::mt19937_64& rng) {
  std::vector<double> cumulative(weights.size());
  std::partial_sum(weights.begin(), weights.end(), cumulative.begin());
  if (cumulative.empty() || !(cumulative.back() > 0)) throw std::invalid_argument("resample_indices: no positive weight");
  std::uniform_real_distribution<double> u(0, cumulative.back());
  std::vector<size_t> out(count);
  for (size_t& i : out) {
    size_t j = static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), u(rng)) - cumulative.begin());
    i = std::min(j, weights.size() - 1);
  }
  return out;
}

}  // namespace latent
