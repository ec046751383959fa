#include "runtime/inference/diagnostics.hpp"

#include <boost/math/special_functions/erf.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace latent {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

size_t draws_per_chain(const Chains& chains) { return chains.empty() ? 0 : chains.front().size(); }

double mean_of(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }

// Sample variance (denominator n - 1).
double variance_of(const std::vector<double>& v) {
  double m = mean_of(v), s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

std::vector<double> pooled(const Chains& chains) {
  std::vector<double> all;
  for (auto& c : chains) all.insert(all.end(), c.begin(), c.end());
  return all;
}

// Whether the diagnostics are defined: equal chains of at least 3 finite draws, not all equal.
bool defined(const Chains& chains) {
  if (chains.empty() || draws_per_chain(chains) < 3) return false;
  bool varies = false;
  const double first = chains.front().front();
  for (auto& c : chains) {
    if (c.size() != chains.front().size()) return false;
    for (double x : c) {
      if (!std::isfinite(x)) return false;
      varies = varies || x != first;
    }
  }
  return varies;
}

template <class F>
Chains map_values(const Chains& chains, F f) {
  Chains out = chains;
  for (auto& c : out)
    for (double& x : c) x = f(x);
  return out;
}

// Autocovariances of one chain, lag by lag as they are needed (Geyer's
// truncation usually stops after a few lags), with the biased estimator
// (denominator n) that Geyer (1992) recommends.
class Autocovariance {
 public:
  explicit Autocovariance(const std::vector<double>& x) : centred_(x) {
    double m = mean_of(x);
    for (double& v : centred_) v -= m;
  }
  double at(size_t lag) const {
    const size_t n = centred_.size();
    double s = 0;
    for (size_t i = 0; i + lag < n; ++i) s += centred_[i] * centred_[i + lag];
    return s / static_cast<double>(n);
  }

 private:
  std::vector<double> centred_;
};

}  // namespace

Chains split_chains(const Chains& chains) {
  Chains out;
  for (auto& c : chains) {
    const size_t n = c.size();
    if (n < 2) {
      out.push_back(c);
      continue;
    }
    const size_t half = n / 2;  // an odd middle draw belongs to neither half
    out.emplace_back(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(half));
    out.emplace_back(c.begin() + static_cast<std::ptrdiff_t>(n - half), c.end());
  }
  return out;
}

double normal_quantile(double p) {
  // In double precision (Boost promotes to long double by default: 3x slower, no more accurate here).
  using Policy = boost::math::policies::policy<boost::math::policies::promote_double<false>>;
  return -std::sqrt(2.0) * boost::math::erfc_inv(2 * p, Policy());
}

Chains rank_normalize(const Chains& chains) {
  std::vector<double> all = pooled(chains);
  const size_t s = all.size();
  std::vector<size_t> order(s);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return all[a] < all[b]; });
  std::vector<double> z(s);
  for (size_t i = 0; i < s;) {
    size_t j = i;
    while (j + 1 < s && all[order[j + 1]] == all[order[i]]) ++j;
    const double average_rank = 0.5 * static_cast<double>(i + j) + 1.0;  // 1-based, ties averaged
    const double score = normal_quantile((average_rank - 0.5) / static_cast<double>(s));
    for (size_t k = i; k <= j; ++k) z[order[k]] = score;
    i = j + 1;
  }
  Chains out = chains;
  size_t at = 0;
  for (auto& c : out)
    for (double& x : c) x = z[at++];
  return out;
}

double basic_rhat(const Chains& chains) {
  if (!defined(chains) || chains.size() < 2) return kNaN;
  const double n = static_cast<double>(draws_per_chain(chains));
  std::vector<double> means, variances;
  for (auto& c : chains) {
    means.push_back(mean_of(c));
    variances.push_back(variance_of(c));
  }
  const double between = n * variance_of(means);
  const double within = mean_of(variances);
  return std::sqrt((between / within + n - 1) / n);
}

double basic_ess(const Chains& chains) {
  if (!defined(chains)) return kNaN;
  const size_t m = chains.size(), n = draws_per_chain(chains);
  std::vector<Autocovariance> acov;
  std::vector<double> means;
  for (auto& c : chains) {
    acov.emplace_back(c);
    means.push_back(mean_of(c));
  }
  auto mean_acov = [&](size_t lag) {
    double s = 0;
    for (auto& a : acov) s += a.at(lag);
    return s / static_cast<double>(m);
  };
  const double dn = static_cast<double>(n);
  const double mean_var = mean_acov(0) * dn / (dn - 1);
  double var_plus = mean_var * (dn - 1) / dn;
  if (m > 1) var_plus += variance_of(means);
  auto rho = [&](size_t lag) { return 1 - (mean_var - mean_acov(lag)) / var_plus; };

  // Geyer's initial positive sequence: sums of adjacent pairs while positive.
  std::vector<double> rho_hat(n, 0.0);
  size_t t = 0;
  double rho_even = 1, rho_odd = rho(1);
  rho_hat[0] = rho_even;
  rho_hat[1] = rho_odd;
  while (t + 5 < n && !std::isnan(rho_even + rho_odd) && rho_even + rho_odd > 0) {
    t += 2;
    rho_even = rho(t);
    rho_odd = rho(t + 1);
    if (rho_even + rho_odd >= 0) {
      rho_hat[t] = rho_even;
      rho_hat[t + 1] = rho_odd;
    }
  }
  const size_t max_t = t;
  if (rho_even > 0) rho_hat[max_t] = rho_even;  // the improved estimate's last term
  // Geyer's initial monotone sequence.
  for (t = 2; t + 2 <= max_t; t += 2) {
    if (rho_hat[t] + rho_hat[t + 1] > rho_hat[t - 2] + rho_hat[t - 1]) {
      rho_hat[t] = (rho_hat[t - 2] + rho_hat[t - 1]) / 2;
      rho_hat[t + 1] = rho_hat[t];
    }
  }
  const double total = static_cast<double>(m) * dn;
  double tau = -1 + rho_hat[max_t];
  for (size_t k = 0; k < max_t; ++k) tau += 2 * rho_hat[k];
  tau = std::max(tau, 1 / std::log10(total));  // at most total * log10(total)
  return total / tau;
}

double rhat(const Chains& chains) {
  if (!defined(chains)) return kNaN;
  const double bulk = basic_rhat(rank_normalize(split_chains(chains)));
  const double median = quantile(pooled(chains), 0.5);
  const double tail = basic_rhat(rank_normalize(split_chains(map_values(chains, [&](double x) { return std::fabs(x - median); }))));
  if (std::isnan(bulk) || std::isnan(tail)) return kNaN;
  return std::max(bulk, tail);
}

double ess_bulk(const Chains& chains) {
  if (!defined(chains)) return kNaN;
  return basic_ess(rank_normalize(split_chains(chains)));
}

double ess_tail(const Chains& chains) {
  if (!defined(chains)) return kNaN;
  std::vector<double> all = pooled(chains);
  const double q05 = quantile(all, 0.05), q95 = quantile(all, 0.95);
  const double low = basic_ess(split_chains(map_values(chains, [&](double x) { return x <= q05 ? 1.0 : 0.0; })));
  const double high = basic_ess(split_chains(map_values(chains, [&](double x) { return x <= q95 ? 1.0 : 0.0; })));
  if (std::isnan(low) || std::isnan(high)) return kNaN;
  return std::min(low, high);
}

double ess_mean(const Chains& chains) { return basic_ess(split_chains(chains)); }

double mcse_mean(const Chains& chains) {
  if (!defined(chains)) return kNaN;
  return std::sqrt(variance_of(pooled(chains)) / ess_mean(chains));
}

double quantile(std::vector<double> values, double p) {
  for (double x : values)
    if (std::isnan(x)) return kNaN;
  std::sort(values.begin(), values.end());
  return quantile_of_sorted(values, p);
}

double quantile_of_sorted(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return kNaN;
  const double h = (static_cast<double>(sorted.size()) - 1) * p;
  const size_t lo = static_cast<size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

ColumnDiagnostics column_diagnostics(const Chains& chains) {
  ColumnDiagnostics d{};
  std::vector<double> all = pooled(chains);
  const double n = static_cast<double>(all.size());
  d.mean = std::accumulate(all.begin(), all.end(), 0.0) / n;
  double squares = 0;
  for (double x : all) squares += (x - d.mean) * (x - d.mean);
  d.sd = all.size() > 1 ? std::sqrt(squares / (n - 1)) : kNaN;
  bool has_nan = false;
  for (double x : all) has_nan = has_nan || std::isnan(x);
  std::vector<double> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  d.q5 = has_nan ? kNaN : quantile_of_sorted(sorted, 0.05);
  d.q50 = has_nan ? kNaN : quantile_of_sorted(sorted, 0.5);
  d.q95 = has_nan ? kNaN : quantile_of_sorted(sorted, 0.95);
  if (!defined(chains)) {
    d.rhat = d.ess_bulk = d.ess_tail = d.ess_mean = d.mcse_mean = kNaN;
    return d;
  }
  const Chains split = split_chains(chains);
  const Chains z = rank_normalize(split);
  const double bulk = basic_rhat(z);
  const double tail =
      basic_rhat(rank_normalize(map_values(split, [&](double x) { return std::fabs(x - d.q50); })));
  d.rhat = std::isnan(bulk) || std::isnan(tail) ? kNaN : std::max(bulk, tail);
  d.ess_bulk = basic_ess(z);
  const double low = basic_ess(map_values(split, [&](double x) { return x <= d.q5 ? 1.0 : 0.0; }));
  const double high = basic_ess(map_values(split, [&](double x) { return x <= d.q95 ? 1.0 : 0.0; }));
  d.ess_tail = std::isnan(low) || std::isnan(high) ? kNaN : std::min(low, high);
  d.ess_mean = basic_ess(split);
  d.mcse_mean = d.sd / std::sqrt(d.ess_mean);
  return d;
}

}  // namespace latent
