#include "compiler/transforms/constraints.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace latent {

using ir::NodeP;
using ir::Op;
using Kind = ConstraintSpec::Kind;

namespace {

// The bound for element i: a scalar bound, or the i-th of a container bound.
double at(const std::vector<double>& v, size_t i) { return v.size() == 1 ? v[0] : v.at(i); }

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

bool is_matrix_constraint(const ConstraintSpec& c) {
  return c.kind == Kind::CholeskyCorr || c.kind == Kind::CorrMatrix || c.kind == Kind::CovMatrix ||
         c.kind == Kind::CholeskyCov;
}

int64_t matrix_free_size(const ConstraintSpec& c) {
  int64_t m = c.rows, n = c.cols;
  switch (c.kind) {
    case Kind::CholeskyCorr: case Kind::CorrMatrix: return m * (m - 1) / 2;
    case Kind::CovMatrix: return m * (m + 1) / 2;
    case Kind::CholeskyCov: return n * (n + 1) / 2 + (m - n) * n;
    default: return 0;
  }
}

int64_t unconstrained_size(const ConstraintSpec& c, int64_t size, int64_t simplex_length) {
  if (c.kind == Kind::Simplex || c.kind == Kind::SumToZero)
    return simplex_length == 0 ? 0 : size / simplex_length * (simplex_length - 1);
  if (is_matrix_constraint(c)) return c.rows * c.cols == 0 ? 0 : size / (c.rows * c.cols) * matrix_free_size(c);
  return size;
}

namespace {

// Simplexes with more free elements than this in all are built by a Scan over
// the stick (the graph then grows with neither K nor their number).
constexpr int64_t kMaxUnrolledSimplex = 32;

// The stick-breaking transform of `count` simplexes of length K at once, as a
// Scan over k whose state is the remaining stick of each simplex:
//   z_k = inv_logit(u_k - log(K - k - 1)),  x_k = stick_k z_k,  stick_{k+1} = stick_k - x_k,
// x_{K-1} = stick_{K-1}; log J = sum_k log z_k + log(1 - z_k) + log stick_k.
Constrained simplex_by_scan(ir::Graph& g, NodeP u, const std::vector<int64_t>& dims, int64_t K, int64_t count) {
  NodeP rows = g.reshape(u, {K - 1, count});  // row k: u_k of every simplex
  NodeP k = g.new_loop_var();
  auto adjusted = [&](NodeP at) {
    NodeP shift = g.unary(Op::Log, g.cast_real(g.sub(g.int_constant(K - 1), at)));
    return g.sub(g.index(rows, 0, at), shift);
  };
  NodeP stick = g.scan_state(static_cast<int>(k->a), {count}, ir::DType::Real);
  NodeP next = g.sub(stick, g.mul(stick, g.unary(Op::InvLogit, adjusted(k))));
  NodeP sticks = g.scan(k, g.fill(g.constant(1), {count}), g.int_constant(0), K - 1, next);  // {count, K}
  NodeP stick_k = g.index(sticks, 1, k);
  NodeP adj = adjusted(k);
  NodeP pieces = g.loop_gen(k, g.int_constant(0), K - 1, g.mul(stick_k, g.unary(Op::InvLogit, adj)));  // {count, K - 1}
  NodeP last = g.index(sticks, 1, g.int_constant(K - 1));
  NodeP x = g.add(g.pad_slice({count, K}, 1, g.int_constant(0), pieces),
                  g.one_hot({count, K}, 1, g.int_constant(K - 1), last));
  NodeP log_terms = g.add(g.sub(g.neg(g.unary(Op::Log1pExp, g.neg(adj))), g.unary(Op::Log1pExp, adj)),
                          g.unary(Op::Log, stick_k));
  NodeP lj = g.loop_sum(k, g.int_constant(0), g.int_constant(K - 2), g.sum(log_terms));
  return {g.reshape(g.transpose(x), dims), lj};
}

// log(1 - tanh(u)^2) = 2 (log 2 - |u| - log1p(exp(-2 |u|))), finite for every finite u.
NodeP log_sech2(ir::Graph& g, NodeP u) {
  NodeP a = g.unary(Op::Abs, u);
  return g.mul(g.constant(2), g.sub(g.sub(g.constant(M_LN2), a), g.unary(Op::Log1pExp, g.mul(g.constant(-2), a))));
}

// The lower Cholesky factor of a correlation matrix from canonical partial correlations
// z[i][j] (i > j) = tanh(u): row i is L[i, j] = z[i][j] sqrt(r_j), r_0 = 1,
// r_{j+1} = r_j (1 - z[i][j]^2), and L[i, i] = sqrt(r_i): every row has unit length.
// `lj` gets sum over i and 0 < j < i of log(r_j) / 2 (the factor's own Jacobian, as
// Stan's cholesky_factor_corr) when `factor_jacobian`.
std::vector<NodeP> correlation_factor(ir::Graph& g, int64_t K, const std::function<NodeP(int64_t, int64_t)>& u_at,
                                      bool factor_jacobian, NodeP& lj) {
  std::vector<NodeP> L(static_cast<size_t>(K * K), g.constant(0));
  auto at = [&](int64_t i, int64_t j) -> NodeP& { return L[static_cast<size_t>(i + j * K)]; };
  if (K == 0) return L;
  at(0, 0) = g.constant(1);
  for (int64_t i = 1; i < K; ++i) {
    NodeP log_r = g.constant(0);
    for (int64_t j = 0; j < i; ++j) {
      NodeP u = u_at(i, j);
      if (j > 0 && factor_jacobian) lj = g.add(lj, g.mul(g.constant(0.5), log_r));
      at(i, j) = g.mul(g.unary(Op::Tanh, u), g.unary(Op::Exp, g.mul(g.constant(0.5), log_r)));
      log_r = g.add(log_r, log_sech2(g, u));
    }
    at(i, i) = g.unary(Op::Exp, g.mul(g.constant(0.5), log_r));
  }
  return L;
}

// L L' of a lower-triangular (or lower-trapezoidal, rows x cols) L, column-major, as scalars.
std::vector<NodeP> times_own_transpose(ir::Graph& g, const std::vector<NodeP>& L, int64_t rows, int64_t cols,
                                       bool unit_diagonal) {
  std::vector<NodeP> out(static_cast<size_t>(rows * rows));
  for (int64_t a = 0; a < rows; ++a)
    for (int64_t b = 0; b <= a; ++b) {
      NodeP sum = g.constant(0);
      for (int64_t k = 0; k <= std::min(b, cols - 1); ++k)
        sum = g.add(sum, g.mul(L[static_cast<size_t>(a + k * rows)], L[static_cast<size_t>(b + k * rows)]));
      if (a == b && unit_diagonal) sum = g.constant(1);
      out[static_cast<size_t>(a + b * rows)] = out[static_cast<size_t>(b + a * rows)] = sum;
    }
  return out;
}

// Stan's transforms of cholesky_factor_corr, corr_matrix, cov_matrix and
// cholesky_factor_cov, one matrix (rows x cols) per trailing index of `dims`:
//   cholesky_factor_corr: u in row-major order below the diagonal, z = tanh(u), the
//     factor above; log J = sum log(1 - z^2) + the factor's (correlation_factor).
//   corr_matrix: u in column-major order below the diagonal, z = tanh(u), Omega = L L'
//     with L the factor above; log J = sum log(1 - z^2) + sum over columns j (0-based)
//     and rows i > j of (K - j - 2) / 2 log(1 - z[i][j]^2) (LKJ 2009, the partial
//     correlations' Jacobian).
//   cov_matrix: row by row, the elements below the diagonal then log L[m, m]; Sigma = L L';
//     log J = K log 2 + sum over m (0-based) of (K - m + 1) log L[m, m].
//   cholesky_factor_cov (M x N): rows m < N as cov_matrix's L, then rows m >= N whole;
//     log J = sum of log L[m, m].
Constrained matrix_constrain(ir::Graph& g, const ConstraintSpec& c, NodeP u, const std::vector<int64_t>& dims) {
  int64_t R = c.rows, C = c.cols, per = R * C, free = matrix_free_size(c);
  int64_t count = per == 0 ? 0 : ir::element_count(dims) / per;
  NodeP flat = g.reshape(u, {u->size()});
  std::vector<NodeP> xs;
  NodeP lj = g.constant(0);
  for (int64_t s = 0; s < count; ++s) {
    int64_t pos = 0;
    auto next = [&]() { return g.index(flat, 0, g.int_constant(s * free + pos++)); };
    std::vector<NodeP> m;
    switch (c.kind) {
      case Kind::CholeskyCorr: {
        m = correlation_factor(g, R, [&](int64_t, int64_t) { return next(); }, true, lj);
        for (int64_t k = 0; k < free; ++k) lj = g.add(lj, log_sech2(g, g.index(flat, 0, g.int_constant(s * free + k))));
        break;
      }
      case Kind::CorrMatrix: {
        std::vector<NodeP> cpc(static_cast<size_t>(R * R));
        for (int64_t j = 0; j < R; ++j)
          for (int64_t i = j + 1; i < R; ++i) {
            NodeP v = next();
            cpc[static_cast<size_t>(i + j * R)] = v;
            lj = g.add(lj, g.mul(g.constant(1 + 0.5 * static_cast<double>(R - j - 2)), log_sech2(g, v)));
          }
        std::vector<NodeP> L = correlation_factor(
            g, R, [&](int64_t i, int64_t j) { return cpc[static_cast<size_t>(i + j * R)]; }, false, lj);
        m = times_own_transpose(g, L, R, R, true);
        break;
      }
      case Kind::CovMatrix:
      case Kind::CholeskyCov: {
        std::vector<NodeP> L(static_cast<size_t>(R * C), g.constant(0));
        bool cov = c.kind == Kind::CovMatrix;
        if (cov && R > 0) lj = g.add(lj, g.constant(static_cast<double>(R) * M_LN2));
        for (int64_t row = 0; row < R; ++row) {
          for (int64_t j = 0; j < std::min(row, C); ++j) L[static_cast<size_t>(row + j * R)] = next();
          if (row >= C) continue;
          NodeP log_diagonal = next();
          L[static_cast<size_t>(row + row * R)] = g.unary(Op::Exp, log_diagonal);
          lj = g.add(lj, cov ? g.mul(g.constant(static_cast<double>(R - row + 1)), log_diagonal) : log_diagonal);
        }
        m = cov ? times_own_transpose(g, L, R, C, false) : L;
        break;
      }
      default: throw std::logic_error("matrix_constrain: not a matrix constraint");
    }
    xs.insert(xs.end(), m.begin(), m.end());
  }
  if (xs.empty()) return {g.zeros(dims), g.constant(0)};
  return {g.pack(xs, dims), lj};
}

// Stan's unit_vector transform, one vector (dims[0] = K) per trailing index:
// x = y / |y|, and Stan's "log Jacobian" -y'y / 2 (it is not one: the map from R^K
// onto the sphere has none; the term gives |y|, which x ignores, a chi distribution
// with K degrees of freedom, so that it stays well behaved). `invalid` is set where |y|^2 is 0
// or infinite, where the transform is undefined (Stan rejects such a y).
Constrained unit_vector_constrain(ir::Graph& g, NodeP u, const std::vector<int64_t>& dims) {
  int64_t K = dims[0];
  int64_t count = K == 0 ? 0 : u->size() / K;
  if (count == 0) return {g.zeros(dims), g.constant(0)};
  NodeP lj = g.mul(g.constant(-0.5), g.sum(g.mul(u, u)));
  NodeP squared_norms;                         // {count}, or a scalar for one vector
  NodeP x;
  if (count == 1) {
    NodeP y = g.reshape(u, {K});
    squared_norms = g.sum(g.mul(y, y));
    x = g.div(y, g.unary(Op::Sqrt, squared_norms));
  } else {
    NodeP columns = g.reshape(u, {K, count});  // column s: vector s
    squared_norms = g.matmul(g.transpose(g.mul(columns, columns)), g.fill(g.constant(1), {K}));
    NodeP s = g.new_loop_var();
    x = g.loop_gen(s, g.int_constant(0), count,
                   g.div(g.index(columns, 1, s), g.unary(Op::Sqrt, g.index(squared_norms, 0, s))));
  }
  NodeP defined = g.binary(Op::And, g.binary(Op::Gt, squared_norms, g.constant(0)),
                           g.binary(Op::Lt, squared_norms, g.constant(INFINITY)));
  auto [invalid, shown] = g.any_violation(g.unary(Op::Not, defined), squared_norms);
  Constrained r{g.reshape(x, dims), lj};
  r.invalid = invalid;
  r.invalid_value = shown;
  return r;
}

// Stan's sum_to_zero_vector transform (the isometric one of the reference manual,
// "Zero sum vector"), one vector (dims[0] = N + 1) per trailing index, from N free
// values y (0-based): with w_i = y_i / sqrt((i + 1)(i + 2)) and the suffix sums
// S_j = sum over i >= j of w_i,
//   x_0 = S_0,  x_j = S_j - j w_{j-1} = S_j - sqrt(j / (j + 1)) y_{j-1}  (j = 1..N).
// x = H y with H's columns orthonormal and orthogonal to (1, ..., 1): column i is
// 1 / sqrt((i + 1)(i + 2)) in rows 0..i and -(i + 1) / sqrt((i + 1)(i + 2)) in row
// i + 1. An isometry onto the hyperplane sum(x) = 0: log J = 0. The suffix sums are
// a Scan over i from N - 1 down (Stan's order), for every vector at once.
Constrained sum_to_zero_constrain(ir::Graph& g, NodeP u, const std::vector<int64_t>& dims) {
  int64_t K = dims[0], N = K - 1;
  int64_t count = N <= 0 ? 0 : u->size() / N;
  if (count == 0) return {g.zeros(dims), g.constant(0)};
  NodeP rows = g.reshape(u, {N, count});  // row i: y_i of every vector
  auto real = [&](NodeP i, double plus) { return g.add(g.cast_real(i), g.constant(plus)); };
  NodeP k = g.new_loop_var();
  NodeP i = g.sub(g.int_constant(N - 1), k);
  NodeP w = g.div(g.index(rows, 0, i), g.unary(Op::Sqrt, g.mul(real(i, 1), real(i, 2))));
  NodeP state = g.scan_state(static_cast<int>(k->a), {count}, ir::DType::Real);
  NodeP suffixes = g.scan(k, g.zeros({count}), g.int_constant(0), N, g.add(state, w));  // {count, N + 1}: S_{N - t}
  NodeP j = g.new_loop_var();
  NodeP suffix = g.index(suffixes, 1, g.sub(g.int_constant(N), j));
  NodeP previous = g.index(rows, 0, g.binary(Op::Max, g.sub(j, g.int_constant(1)), g.int_constant(0)));
  NodeP step = g.mul(g.unary(Op::Sqrt, g.div(g.cast_real(j), real(j, 1))), previous);  // 0 at j = 0
  NodeP x = g.loop_gen(j, g.int_constant(0), K, g.sub(suffix, step));  // {count, K}
  return {g.reshape(g.transpose(x), dims), g.constant(0)};
}

}  // namespace

Constrained constrain(ir::Graph& g, const ConstraintSpec& c, NodeP u, const std::vector<int64_t>& dims) {
  auto total = [&](NodeP t) { return t->is_scalar() && u->size() != 1 && !u->is_scalar()
                                         ? g.mul(t, g.constant(static_cast<double>(u->size())))
                                         : g.sum(t); };
  switch (c.kind) {
    case Kind::None: return {u, g.constant(0)};
    case Kind::Lower:  // x = lb + exp(u), log J = u
      return {g.add(g.cast_real(c.lower), g.unary(Op::Exp, u)), g.sum(u)};
    case Kind::Upper:  // x = ub - exp(u), log J = u
      return {g.sub(g.cast_real(c.upper), g.unary(Op::Exp, u)), g.sum(u)};
    case Kind::LowerUpper: {  // x = lb + (ub - lb) inv_logit(u)
      NodeP lb = g.cast_real(c.lower), ub = g.cast_real(c.upper);
      NodeP width = g.sub(ub, lb);
      NodeP x = g.add(lb, g.mul(width, g.unary(Op::InvLogit, u)));
      // log J = log(ub - lb) + log_inv_logit(u) + log1m_inv_logit(u)
      NodeP lj = g.sub(g.neg(g.unary(Op::Log1pExp, g.neg(u))), g.unary(Op::Log1pExp, u));
      return {x, g.add(total(g.unary(Op::Log, width)), g.sum(lj))};
    }
    case Kind::OffsetMultiplier: {  // x = offset + multiplier * u
      NodeP m = g.cast_real(c.multiplier);
      return {g.add(g.cast_real(c.offset), g.mul(m, u)), total(g.unary(Op::Log, m))};
    }
    case Kind::Simplex: {
      // Stan's stick-breaking transform, one simplex (dims[0] = K) per trailing index.
      int64_t K = dims[0];
      int64_t count = 1;  // simplexes: the trailing dims (a simplex[1] has no free values, but is one)
      for (size_t d = 1; d < dims.size(); ++d) count *= dims[d];
      if (K > 2 && (K - 1) * count > kMaxUnrolledSimplex) return simplex_by_scan(g, u, dims, K, count);
      std::vector<NodeP> xs;
      NodeP lj = g.constant(0);
      for (int64_t s = 0; s < count; ++s) {
        NodeP stick = g.constant(1);
        for (int64_t k = 0; k < K - 1; ++k) {
          NodeP uk = g.index(g.reshape(u, {u->size()}), 0, g.int_constant(s * (K - 1) + k));
          NodeP adj = g.sub(uk, g.constant(std::log(static_cast<double>(K - k - 1))));
          NodeP z = g.unary(Op::InvLogit, adj);
          NodeP xk = g.mul(stick, z);
          // log J += log(z) + log(1 - z) + log(stick)
          lj = g.add(lj, g.add(g.sub(g.neg(g.unary(Op::Log1pExp, g.neg(adj))), g.unary(Op::Log1pExp, adj)),
                               g.unary(Op::Log, stick)));
          xs.push_back(xk);
          stick = g.sub(stick, xk);
        }
        xs.push_back(stick);
      }
      return {g.pack(xs, dims), lj};
    }
    case Kind::CholeskyCorr: case Kind::CorrMatrix: case Kind::CovMatrix: case Kind::CholeskyCov:
      return matrix_constrain(g, c, u, dims);
    case Kind::UnitVector: return unit_vector_constrain(g, u, dims);
    case Kind::SumToZero: return sum_to_zero_constrain(g, u, dims);
    case Kind::Ordered:
    case Kind::PositiveOrdered: {
      // Stan's: x_1 = u_1 (positive_ordered: exp(u_1)), x_k = x_{k-1} + exp(u_k); one
      // vector (dims[0] = K) per trailing index. log J = the sum of the exponentiated u.
      bool positive = c.kind == Kind::PositiveOrdered;
      int64_t K = dims[0];
      int64_t count = K == 0 ? 0 : u->size() / K;
      NodeP flat = g.reshape(u, {u->size()});
      std::vector<NodeP> xs;
      NodeP lj = g.constant(0);
      for (int64_t s = 0; s < count; ++s) {
        NodeP previous = nullptr;
        for (int64_t k = 0; k < K; ++k) {
          NodeP uk = g.index(flat, 0, g.int_constant(s * K + k));
          bool exponentiated = k > 0 || positive;
          NodeP step = exponentiated ? g.unary(Op::Exp, uk) : uk;
          if (exponentiated) lj = g.add(lj, uk);
          previous = previous ? g.add(previous, step) : step;
          xs.push_back(previous);
        }
      }
      return {g.pack(xs, dims), lj};
    }
  }
  throw std::logic_error("unknown constraint");
}

namespace {

// The lower Cholesky factor of a symmetric positive-definite n x n matrix (column-major);
// false when it is not positive definite.
bool host_cholesky(const std::vector<double>& a, size_t n, std::vector<double>& l) {
  l.assign(n * n, 0);
  for (size_t j = 0; j < n; ++j) {
    double d = a[j + j * n];
    for (size_t k = 0; k < j; ++k) d -= l[j + k * n] * l[j + k * n];
    if (!(d > 0)) return false;
    l[j + j * n] = std::sqrt(d);
    for (size_t i = j + 1; i < n; ++i) {
      double v = a[i + j * n];
      for (size_t k = 0; k < j; ++k) v -= l[i + k * n] * l[j + k * n];
      l[i + j * n] = v / l[j + j * n];
    }
  }
  return true;
}

// The inverse of matrix_constrain for one matrix m (column-major rows x cols); throws
// std::invalid_argument naming what is wrong.
void matrix_unconstrain(const ConstraintSpec& c, const double* m, std::vector<double>& u) {
  size_t R = static_cast<size_t>(c.rows), C = static_cast<size_t>(c.cols);
  auto at = [&](size_t i, size_t j) { return m[i + j * R]; };
  auto fail = [](const std::string& why) { throw std::invalid_argument(why); };
  constexpr double tol = 1e-8;
  std::vector<double> L(m, m + R * C);
  if (c.kind == Kind::CorrMatrix || c.kind == Kind::CovMatrix) {
    std::string what = c.kind == Kind::CorrMatrix ? "a correlation matrix" : "a covariance matrix";
    for (size_t i = 0; i < R; ++i)
      for (size_t j = 0; j < i; ++j)
        if (!(std::fabs(at(i, j) - at(j, i)) <= tol))
          fail(what + " must be symmetric, but element [" + std::to_string(i + 1) + ", " + std::to_string(j + 1) +
               "] is " + num(at(i, j)) + " and [" + std::to_string(j + 1) + ", " + std::to_string(i + 1) + "] is " +
               num(at(j, i)));
    if (c.kind == Kind::CorrMatrix)
      for (size_t i = 0; i < R; ++i)
        if (!(std::fabs(at(i, i) - 1) <= tol))
          fail("a correlation matrix must have ones on its diagonal, but element [" + std::to_string(i + 1) + ", " +
               std::to_string(i + 1) + "] is " + num(at(i, i)));
    if (!host_cholesky(std::vector<double>(m, m + R * R), R, L)) fail(what + " must be positive definite");
  } else {
    std::string what = c.kind == Kind::CholeskyCorr ? "a Cholesky factor of a correlation matrix" : "a Cholesky factor";
    for (size_t j = 0; j < C; ++j)
      for (size_t i = 0; i < j && i < R; ++i)
        if (at(i, j) != 0)
          fail(what + " must be lower triangular, but element [" + std::to_string(i + 1) + ", " + std::to_string(j + 1) +
               "] is " + num(at(i, j)));
    for (size_t i = 0; i < std::min(R, C); ++i)
      if (!(at(i, i) > 0)) fail(what + " must have a positive diagonal, but element [" + std::to_string(i + 1) + ", " +
                                std::to_string(i + 1) + "] is " + num(at(i, i)));
    if (c.kind == Kind::CholeskyCorr)
      for (size_t i = 0; i < R; ++i) {
        double norm = 0;
        for (size_t j = 0; j <= i; ++j) norm += at(i, j) * at(i, j);
        if (!(std::fabs(norm - 1) <= tol))
          fail(what + " must have rows of unit length, but row " + std::to_string(i + 1) + " has squared length " +
               num(norm));
      }
  }
  auto l = [&](size_t i, size_t j) { return L[i + j * R]; };
  if (c.kind == Kind::CholeskyCorr || c.kind == Kind::CorrMatrix) {
    // z[i][j] = L[i, j] / sqrt(1 - sum over k < j of L[i, k]^2); u = atanh(z).
    auto z = [&](size_t i, size_t j) {
      double used = 0;
      for (size_t k = 0; k < j; ++k) used += l(i, k) * l(i, k);
      return std::atanh(l(i, j) / std::sqrt(1 - used));
    };
    if (c.kind == Kind::CholeskyCorr) {
      for (size_t i = 1; i < R; ++i)
        for (size_t j = 0; j < i; ++j) u.push_back(z(i, j));
    } else {
      for (size_t j = 0; j < R; ++j)
        for (size_t i = j + 1; i < R; ++i) u.push_back(z(i, j));
    }
    return;
  }
  for (size_t row = 0; row < R; ++row) {
    for (size_t j = 0; j < std::min(row, C); ++j) u.push_back(l(row, j));
    if (row < C) u.push_back(std::log(l(row, row)));
  }
}

}  // namespace

std::vector<double> unconstrain(const ConstraintSpec& c, const BoundValues& b, const std::vector<double>& x,
                                int64_t simplex_length, bool scalar) {
  std::vector<double> u;
  if (is_matrix_constraint(c)) {
    size_t per = static_cast<size_t>(c.rows * c.cols);
    for (size_t s = 0; per > 0 && s + per <= x.size(); s += per) {
      try {
        matrix_unconstrain(c, x.data() + s, u);
      } catch (const std::invalid_argument& e) {
        if (x.size() == per) throw;
        throw std::invalid_argument("matrix " + std::to_string(s / per + 1) + ": " + e.what());
      }
    }
    return u;
  }
  auto fail = [&](size_t i, const std::string& why) {
    throw std::invalid_argument((scalar ? std::string("the value") : "element " + std::to_string(i + 1)) + " is " +
                                num(x[i]) + ", " + why);
  };
  // "vector 2: " before the message about one vector of an array of them.
  auto vector_failure = [&](size_t start, size_t K, const std::string& why) {
    throw std::invalid_argument(x.size() > K ? "vector " + std::to_string(start / K + 1) + ": " + why : why);
  };
  switch (c.kind) {
    case Kind::None: return x;
    case Kind::UnitVector: {  // Stan's unit_vector_free: x itself, once |x|^2 = 1 within 1e-8
      size_t K = static_cast<size_t>(simplex_length);
      for (size_t s = 0; K > 0 && s + K <= x.size(); s += K) {
        double squares = 0;
        for (size_t k = 0; k < K; ++k) squares += x[s + k] * x[s + k];
        if (!(std::fabs(1 - squares) <= 1e-8))
          vector_failure(s, K, "a unit_vector must have length 1, but the sum of the squares of its elements is " +
                                   num(squares));
      }
      return x;
    }
    case Kind::SumToZero: {  // Stan's sum_to_zero_free: H' x, by the recurrence of the reference manual
      size_t K = static_cast<size_t>(simplex_length);
      for (size_t s = 0; K > 0 && s + K <= x.size(); s += K) {
        const double* v = x.data() + s;
        double sum = 0;
        for (size_t k = 0; k < K; ++k) sum += v[k];
        if (!(std::fabs(sum) <= 1e-8))
          vector_failure(s, K, "a sum_to_zero_vector must sum to 0, but sums to " + num(sum));
        size_t N = K - 1;
        if (N == 0) continue;
        std::vector<double> y(N);
        auto n_of = [](size_t i) { return static_cast<double>(i + 1); };
        y[N - 1] = -v[N] * std::sqrt(n_of(N - 1) * (n_of(N - 1) + 1)) / n_of(N - 1);
        double total = 0;
        for (size_t i = N - 1; i-- > 0;) {
          double n = n_of(i);
          total += y[i + 1] / std::sqrt((n + 1) * (n + 2));
          y[i] = (total - v[i + 1]) * std::sqrt(n * (n + 1)) / n;
        }
        u.insert(u.end(), y.begin(), y.end());
      }
      return u;
    }
    case Kind::CholeskyCorr: case Kind::CorrMatrix: case Kind::CovMatrix: case Kind::CholeskyCov: return u;  // above
    case Kind::Lower: {
      for (size_t i = 0; i < x.size(); ++i) {
        double lb = at(b.lower, i);
        if (!(x[i] > lb)) fail(i, "but must be greater than " + num(lb));
        u.push_back(std::log(x[i] - lb));
      }
      return u;
    }
    case Kind::Upper: {
      for (size_t i = 0; i < x.size(); ++i) {
        double ub = at(b.upper, i);
        if (!(x[i] < ub)) fail(i, "but must be less than " + num(ub));
        u.push_back(std::log(ub - x[i]));
      }
      return u;
    }
    case Kind::LowerUpper: {
      for (size_t i = 0; i < x.size(); ++i) {
        double lb = at(b.lower, i), ub = at(b.upper, i);
        if (!(x[i] > lb && x[i] < ub)) fail(i, "but must be strictly between " + num(lb) + " and " + num(ub));
        double p = (x[i] - lb) / (ub - lb);
        u.push_back(std::log(p) - std::log1p(-p));
      }
      return u;
    }
    case Kind::OffsetMultiplier: {
      for (size_t i = 0; i < x.size(); ++i) u.push_back((x[i] - at(b.offset, i)) / at(b.multiplier, i));
      return u;
    }
    case Kind::Simplex: {
      int64_t K = simplex_length;
      for (size_t s = 0; s + static_cast<size_t>(K) <= x.size(); s += static_cast<size_t>(K)) {
        double sum = 0;
        for (int64_t k = 0; k < K; ++k) {
          if (!(x[s + k] >= 0)) fail(s + k, "but a simplex must be non-negative");
          sum += x[s + k];
        }
        if (std::fabs(sum - 1) > 1e-8) throw std::invalid_argument("a simplex must sum to 1, but sums to " + num(sum));
        double stick = 1;
        for (int64_t k = 0; k < K - 1; ++k) {
          double z = x[s + k] / stick;
          u.push_back(std::log(z) - std::log1p(-z) + std::log(static_cast<double>(K - k - 1)));
          stick -= x[s + k];
        }
      }
      return u;
    }
    case Kind::Ordered:
    case Kind::PositiveOrdered: {
      bool positive = c.kind == Kind::PositiveOrdered;
      size_t K = static_cast<size_t>(simplex_length);
      for (size_t s = 0; K > 0 && s + K <= x.size(); s += K)
        for (size_t k = 0; k < K; ++k) {
          if (k == 0) {
            if (positive && !(x[s] > 0)) fail(s, "but a positive_ordered vector must be positive");
            u.push_back(positive ? std::log(x[s]) : x[s]);
            continue;
          }
          if (!(x[s + k] > x[s + k - 1]))
            fail(s + k, "but an ordered vector must be strictly increasing (the previous element is " +
                            num(x[s + k - 1]) + ")");
          u.push_back(std::log(x[s + k] - x[s + k - 1]));
        }
      return u;
    }
  }
  return u;
}

std::string describe(const ConstraintSpec& c) {
  auto v = [](NodeP n) { return n->is_const() ? num(n->value) : std::string("<expr>"); };
  switch (c.kind) {
    case Kind::None: return "";
    case Kind::Lower: return "lower=" + v(c.lower);
    case Kind::Upper: return "upper=" + v(c.upper);
    case Kind::LowerUpper: return "lower=" + v(c.lower) + ", upper=" + v(c.upper);
    case Kind::OffsetMultiplier: return "offset=" + v(c.offset) + ", multiplier=" + v(c.multiplier);
    case Kind::Simplex: return "simplex";
    case Kind::Ordered: return "ordered";
    case Kind::PositiveOrdered: return "positive_ordered";
    case Kind::UnitVector: return "unit_vector";
    case Kind::SumToZero: return "sum_to_zero_vector";
    case Kind::CholeskyCorr: return "cholesky_factor_corr";
    case Kind::CorrMatrix: return "corr_matrix";
    case Kind::CovMatrix: return "cov_matrix";
    case Kind::CholeskyCov: return "cholesky_factor_cov";
  }
  return "";
}

}  // namespace latent
