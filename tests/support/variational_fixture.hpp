// Helpers for the variational-inference tests (tests/unit/test_variational.cpp):
// small dense linear algebra for closed-form Gaussian posteriors and evidences,
// the variational-parameter layout of compiler/transforms/variational.hpp, the
// ELBO/IWAE computed by hand from BoundModel::log_density, finite differences of
// a compiled objective at fixed noise, and Monte Carlo summaries.
#pragma once

#include "tests/support/model_fixture.hpp"

#include "runtime/inference/advi.hpp"

#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace latent::testing {

constexpr double kLog2Pi = 1.83787706640934548356;

// ---- dense matrices (row-major), enough for closed forms of a few dimensions -------------

struct Mat {
  int rows = 0, cols = 0;
  std::vector<double> a;
  Mat() = default;
  Mat(int r, int c, double fill = 0.0) : rows(r), cols(c), a(static_cast<size_t>(r) * c, fill) {}
  double& operator()(int i, int j) { return a[static_cast<size_t>(i) * cols + j]; }
  double operator()(int i, int j) const { return a[static_cast<size_t>(i) * cols + j]; }
  static Mat identity(int n) {
    Mat m(n, n);
    for (int i = 0; i < n; ++i) m(i, i) = 1;
    return m;
  }
};

inline Mat transpose(const Mat& A) {
  Mat t(A.cols, A.rows);
  for (int i = 0; i < A.rows; ++i)
    for (int j = 0; j < A.cols; ++j) t(j, i) = A(i, j);
  return t;
}

inline Mat matmul(const Mat& A, const Mat& B) {
  Mat c(A.rows, B.cols);
  for (int i = 0; i < A.rows; ++i)
    for (int k = 0; k < A.cols; ++k)
      for (int j = 0; j < B.cols; ++j) c(i, j) += A(i, k) * B(k, j);
  return c;
}

inline std::vector<double> matvec(const Mat& A, const std::vector<double>& x) {
  std::vector<double> y(static_cast<size_t>(A.rows), 0.0);
  for (int i = 0; i < A.rows; ++i)
    for (int j = 0; j < A.cols; ++j) y[i] += A(i, j) * x[j];
  return y;
}

inline Mat scaled(Mat A, double s) {
  for (double& x : A.a) x *= s;
  return A;
}

inline Mat plus(Mat A, const Mat& B) {
  for (size_t i = 0; i < A.a.size(); ++i) A.a[i] += B.a[i];
  return A;
}

// Lower Cholesky factor of a symmetric positive-definite matrix.
inline Mat cholesky(const Mat& A) {
  int n = A.rows;
  Mat L(n, n);
  for (int j = 0; j < n; ++j) {
    double d = A(j, j);
    for (int k = 0; k < j; ++k) d -= L(j, k) * L(j, k);
    if (!(d > 0)) throw std::runtime_error("cholesky: matrix not positive definite");
    L(j, j) = std::sqrt(d);
    for (int i = j + 1; i < n; ++i) {
      double s = A(i, j);
      for (int k = 0; k < j; ++k) s -= L(i, k) * L(j, k);
      L(i, j) = s / L(j, j);
    }
  }
  return L;
}

// Solves (L L^T) x = b.
inline std::vector<double> chol_solve(const Mat& L, std::vector<double> b) {
  int n = L.rows;
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < i; ++k) b[i] -= L(i, k) * b[k];
    b[i] /= L(i, i);
  }
  for (int i = n - 1; i >= 0; --i) {
    for (int k = i + 1; k < n; ++k) b[i] -= L(k, i) * b[k];
    b[i] /= L(i, i);
  }
  return b;
}

inline double chol_logdet(const Mat& L) {
  double s = 0;
  for (int i = 0; i < L.rows; ++i) s += 2 * std::log(L(i, i));
  return s;
}

inline Mat spd_inverse(const Mat& A) {
  Mat L = cholesky(A), inv(A.rows, A.rows);
  for (int j = 0; j < A.rows; ++j) {
    std::vector<double> e(static_cast<size_t>(A.rows), 0.0);
    e[j] = 1;
    std::vector<double> x = chol_solve(L, e);
    for (int i = 0; i < A.rows; ++i) inv(i, j) = x[i];
  }
  return inv;
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// log N(x; m, C)
inline double mvn_logpdf(const std::vector<double>& x, const std::vector<double>& m, const Mat& C) {
  Mat L = cholesky(C);
  std::vector<double> r(x.size());
  for (size_t i = 0; i < x.size(); ++i) r[i] = x[i] - m[i];
  return -0.5 * (static_cast<double>(x.size()) * kLog2Pi + chol_logdet(L) + dot(r, chol_solve(L, r)));
}

// KL(N(m1, C1) || N(m2, C2))
inline double gaussian_kl(const std::vector<double>& m1, const Mat& C1, const std::vector<double>& m2, const Mat& C2) {
  int n = C1.rows;
  Mat L2 = cholesky(C2);
  double trace = 0;
  for (int j = 0; j < n; ++j) {
    std::vector<double> col(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) col[i] = C1(i, j);
    trace += chol_solve(L2, col)[j];
  }
  std::vector<double> d(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) d[i] = m2[i] - m1[i];
  return 0.5 * (trace + dot(d, chol_solve(L2, d)) - n + chol_logdet(L2) - chol_logdet(cholesky(C1)));
}

// Variance of log N(z; m, S) for z ~ N(mq, C): with Lambda = S^{-1}, d = mq - m,
// tr((Lambda C)^2) / 2 + d^T Lambda C Lambda d. For a Gaussian posterior this is the per-draw
// variance of the ELBO estimator (whose entropy term is exact).
inline double elbo_draw_variance(const std::vector<double>& mq, const Mat& C, const std::vector<double>& m, const Mat& S) {
  Mat lambda = spd_inverse(S), LC = matmul(lambda, C), LCL = matmul(LC, lambda);
  int n = C.rows;
  double tr = 0;
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) tr += LC(i, j) * LC(j, i);
  std::vector<double> d(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) d[i] = mq[i] - m[i];
  return 0.5 * tr + dot(d, matvec(LCL, d));
}

// ---- the variational-parameter layout ----------------------------------------------------

// Full-rank phi = [mu, L lower triangle by columns].
inline std::vector<double> fullrank_phi(const std::vector<double>& mu, const Mat& L) {
  std::vector<double> phi(mu);
  int n = static_cast<int>(mu.size());
  for (int j = 0; j < n; ++j)
    for (int i = j; i < n; ++i) phi.push_back(L(i, j));
  return phi;
}

inline std::vector<double> meanfield_phi(const std::vector<double>& mu, const std::vector<double>& sd) {
  std::vector<double> phi(mu);
  for (double s : sd) phi.push_back(std::log(s));
  return phi;
}

// The scale factor of q (z = mu + scale * eps): diag(exp(omega)) or L.
inline Mat scale_factor(Family family, const std::vector<double>& phi, int n) {
  Mat L(n, n);
  if (family == Family::MeanField) {
    for (int i = 0; i < n; ++i) L(i, i) = std::exp(phi[n + i]);
  } else {
    size_t k = static_cast<size_t>(n);
    for (int j = 0; j < n; ++j)
      for (int i = j; i < n; ++i) L(i, j) = phi[k++];
  }
  return L;
}

inline Mat q_covariance(Family family, const std::vector<double>& phi, int n) {
  Mat L = scale_factor(family, phi, n);
  return matmul(L, transpose(L));
}

inline std::vector<double> q_mean(const std::vector<double>& phi, int n) {
  return std::vector<double>(phi.begin(), phi.begin() + n);
}

// ELBO and IWAE at fixed noise (column d of the n x draws noise: eps[d*n .. d*n+n)), by hand
// from the model's log density: the reference the compiled objectives must match.
inline double elbo_by_hand(const BoundModel& m, Family family, const std::vector<double>& phi,
                           const std::vector<double>& noise, int draws) {
  int n = static_cast<int>(m.num_unconstrained());
  Mat L = scale_factor(family, phi, n);
  double total = 0;
  for (int d = 0; d < draws; ++d) {
    std::vector<double> eps(noise.begin() + d * n, noise.begin() + (d + 1) * n);
    std::vector<double> z = matvec(L, eps);
    for (int i = 0; i < n; ++i) z[i] += phi[i];
    total += lp(m, z);
  }
  double log_det = 0;
  for (int i = 0; i < n; ++i) log_det += std::log(std::fabs(L(i, i)));
  return total / draws + log_det + 0.5 * n * (1 + kLog2Pi);
}

inline double iwae_by_hand(const BoundModel& m, Family family, const std::vector<double>& phi,
                           const std::vector<double>& noise, int k) {
  int n = static_cast<int>(m.num_unconstrained());
  Mat L = scale_factor(family, phi, n);
  double log_det = 0;
  for (int i = 0; i < n; ++i) log_det += std::log(std::fabs(L(i, i)));
  std::vector<double> w;
  for (int d = 0; d < k; ++d) {
    std::vector<double> eps(noise.begin() + d * n, noise.begin() + (d + 1) * n);
    std::vector<double> z = matvec(L, eps);
    for (int i = 0; i < n; ++i) z[i] += phi[i];
    double log_q = -0.5 * dot(eps, eps) - log_det - 0.5 * n * kLog2Pi;
    w.push_back(lp(m, z) - log_q);
  }
  double mx = *std::max_element(w.begin(), w.end());
  double s = 0;
  for (double x : w) s += std::exp(x - mx);
  return mx + std::log(s / k);
}

inline std::vector<double> standard_normal(std::mt19937_64& rng, size_t count) {
  std::normal_distribution<double> normal;
  std::vector<double> v(count);
  for (double& x : v) x = normal(rng);
  return v;
}

// Central (4th-order) finite differences of a compiled objective at fixed noise.
inline std::vector<double> fd_objective(CompiledObjective& o, const std::vector<double>& phi,
                                        const std::vector<double>& noise, double step = 1e-5) {
  std::vector<double> g(phi.size());
  for (size_t i = 0; i < phi.size(); ++i) {
    double h = step * std::max(1.0, std::fabs(phi[i]));
    auto at = [&](double d) {
      std::vector<double> p = phi;
      p[i] += d;
      return o.evaluate_at(p, noise, nullptr);
    };
    g[i] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
  }
  return g;
}

// ---- Monte Carlo summaries ---------------------------------------------------------------

struct MeanSe {
  double mean = 0, se = 0, sd = 0;
  size_t count = 0;
};

inline MeanSe mean_se(const std::vector<double>& x) {
  MeanSe r;
  r.count = x.size();
  r.mean = std::accumulate(x.begin(), x.end(), 0.0) / static_cast<double>(x.size());
  double ss = 0;
  for (double v : x) ss += (v - r.mean) * (v - r.mean);
  r.sd = std::sqrt(ss / static_cast<double>(x.size() - 1));
  r.se = r.sd / std::sqrt(static_cast<double>(x.size()));
  return r;
}

// ---- JSON for generated data -------------------------------------------------------------

inline std::string json_number(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

inline std::string json_vector(const std::vector<double>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + json_number(v[i]);
  return s + "]";
}

inline std::string json_matrix(const Mat& A) {
  std::string s = "[";
  for (int i = 0; i < A.rows; ++i) {
    std::vector<double> row(A.a.begin() + static_cast<long>(i) * A.cols, A.a.begin() + static_cast<long>(i + 1) * A.cols);
    s += (i ? ", " : "") + json_vector(row);
  }
  return s + "]";
}

}  // namespace latent::testing
