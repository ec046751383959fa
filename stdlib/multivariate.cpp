// Multivariate distributions: multi_normal (a covariance matrix), multi_normal_cholesky
// (its Cholesky factor), and the LKJ densities of correlation matrices (lkj_corr) and
// of their Cholesky factors (lkj_corr_cholesky). Their log densities are written with
// the IR's Cholesky and triangular-solve ops (stdlib/linear_algebra.hpp), so their
// gradients follow from those ops' adjoints.
#include "stdlib/linear_algebra.hpp"

#include <cmath>

namespace latent::stdlib {

using ir::NodeP;
using ir::Op;

namespace {

constexpr double kLogTwoPi = 1.83787706640934548356;  // log(2 pi)

using Terms = std::vector<NodeP>;
using Params = std::vector<Value>;

bool is(const Type& t, Base b, int dims = 0) { return t.is_error() || (t.base == b && t.array_dims == dims); }

// A vector, row_vector, or an array (one dimension) of them.
bool vectors(const Type& t) {
  return is(t, Base::Vector) || is(t, Base::RowVector) || is(t, Base::Vector, 1) || is(t, Base::RowVector, 1);
}

// Vectors as the columns of a K x N matrix: a single vector is one column; an
// array of N vectors of K elements is stored {K, N} already.
NodeP as_columns(ir::Graph& g, NodeP v) {
  v = g.cast_real(v);
  return v->dims.size() == 1 ? g.reshape(v, {v->dims[0], 1}) : v;
}

// Checks that a value has no NaN (Stan's check_not_nan) or is finite (check_finite).
void check_values(CallContext& ctx, NodeP x, bool finite, const std::string& what) {
  ir::Graph& g = ctx.g;
  NodeP bad = g.binary(Op::Ne, x, x);
  if (finite) bad = g.binary(Op::Or, bad, g.binary(Op::Eq, g.unary(Op::Abs, x), g.constant(INFINITY)));
  auto [any, worst] = g.any_violation(bad, x);
  ctx.check(any, ctx.name() + ": " + what + (finite ? " must be finite" : " must not be NaN"), worst, what);
}

// The log density of y ~ N(mu, L L') given the lower Cholesky factor L of the covariance:
//   -K N / 2 log(2 pi) - N sum(log(diag(L))) - 1/2 sum((L^-1 (y_n - mu_n))^2)
// over the N columns. The vectors y and mu are single ones or arrays of them (a single one
// is shared by every element of the other).
Terms gaussian_terms(CallContext& ctx, const Value& y, const Value& mu, NodeP l) {
  ir::Graph& g = ctx.g;
  NodeP ys = as_columns(g, y.node), mus = as_columns(g, mu.node);
  int64_t k = l->dims[0];
  if (ys->dims[0] != k || mus->dims[0] != k)
    ctx.error(ctx.name() + ": size mismatch: the random variable has " + std::to_string(ys->dims[0]) +
              " elements, the location parameter " + std::to_string(mus->dims[0]) + " and the covariance is " +
              std::to_string(k) + " x " + std::to_string(l->dims[1]));
  int64_t ny = ys->dims[1], nmu = mus->dims[1];
  bool y_array = y.type.array_dims > 0, mu_array = mu.type.array_dims > 0;
  if (y_array && mu_array && ny != nmu)
    ctx.error(ctx.name() + ": size mismatch: " + std::to_string(ny) + " random variables but " + std::to_string(nmu) +
              " location parameters");
  int64_t n = y_array ? ny : mu_array ? nmu : 1;
  check_values(ctx, y.node, false, "Random variable");
  check_values(ctx, mu.node, true, "Location parameter");
  if (n == 0 || k == 0) return {};
  NodeP ones = g.fill(g.constant(1), {1, n});
  if (ny != n) ys = g.matmul(ys, ones);  // one vector against n locations
  if (nmu != n) mus = g.matmul(mus, ones);
  NodeP z = g.tri_solve(l, g.sub(ys, mus), false);
  NodeP log_det = g.mul(g.constant(static_cast<double>(n)), g.sum(g.unary(Op::Log, diagonal_of(g, l))));
  return {g.constant(-0.5 * kLogTwoPi * static_cast<double>(k * n)), g.neg(log_det),
          g.mul(g.constant(-0.5), g.sum(g.mul(z, z)))};
}

// multi_normal (covariance = false: multi_normal_cholesky) with its type rule and draw.
DistributionEntry multi_normal(bool cholesky) {
  DistributionEntry d;
  d.name = cholesky ? "multi_normal_cholesky" : "multi_normal";
  d.discrete = false;
  d.variate = Domain::Any;
  d.params = {{"location parameter", Domain::Finite},
              {cholesky ? "Cholesky factor of covariance parameter" : "covariance parameter", Domain::Any}};
  d.elementwise = false;
  std::string name = d.name;
  d.signature = [name](const Type& y, const std::vector<Type>& p, std::string* why) {
    bool ok = p.size() == 2 && vectors(y) && vectors(p[0]) && is(p[1], Base::Matrix);
    if (!ok)
      *why = "no matching signature for " + name + ": expected (vectors | vectors, matrix), where vectors is a vector, "
             "row_vector or an array of them";
    return ok;
  };
  // The Cholesky factor of the covariance, with Stan's checks of it.
  auto factor = [cholesky](CallContext& ctx, NodeP sigma) -> NodeP {
    sigma = ctx.g.cast_real(sigma);
    if (cholesky) {
      require_square(ctx, sigma, "the Cholesky factor of the covariance");
      return sigma;
    }
    return checked_cholesky(ctx, sigma, "the covariance matrix");
  };
  d.terms = [factor](CallContext& ctx, const Value& y, const Params& p, int64_t) -> Terms {
    return gaussian_terms(ctx, y, p[0], factor(ctx, p[1].node));
  };
  d.mean = [](ir::Graph&, const std::vector<NodeP>& p) { return p[0]; };
  d.draw = [factor, name](CallContext& ctx, const std::vector<NodeP>& p, const std::vector<int64_t>&) -> NodeP {
    ir::Graph& g = ctx.g;
    NodeP mu = p[0];
    if (mu->dims.size() != 1)
      ctx.error(name + "_rng: an array of location parameters is not supported; draw each vector in a loop");
    NodeP l = factor(ctx, p[1]);
    if (l->dims[0] != mu->dims[0])
      ctx.error(name + "_rng: size mismatch: the location parameter has " + std::to_string(mu->dims[0]) +
                " elements, the covariance is " + std::to_string(l->dims[0]) + " x " + std::to_string(l->dims[1]));
    check_values(ctx, mu, true, "Location parameter");
    if (mu->dims[0] == 0) return mu;
    const DistributionEntry& normal = *find_distribution("normal");
    NodeP z = g.random(normal.sampler_id, ctx.draw_site, ir::DType::Real, mu->dims, {g.constant(0), g.constant(1)},
                       ctx.loop_vars);
    return g.add(mu, g.matmul(triangle(g, l, false), z));
  };
  return d;
}

// log of LKJ's normalising constant for K x K correlation matrices with shape eta
// (Lewandowski, Kurowicka and Joe 2009, eq. 16):
//   c_K(eta) = sum_{k=1}^{K-1} [(2 eta - 2 + K - k)(K - k) log 2 + (K - k) log B(b_k, b_k)],
//   b_k = eta + (K - k - 1) / 2;
// the density of a correlation matrix is det(Omega)^(eta - 1) / exp(c_K(eta)).
NodeP lkj_log_normalizer(ir::Graph& g, NodeP eta, int64_t size) {
  NodeP total = g.constant(0);
  for (int64_t k = 1; k < size; ++k) {
    double m = static_cast<double>(size - k);
    NodeP b = g.add(eta, g.constant((m - 1) / 2));
    NodeP log_beta = g.sub(g.mul(g.constant(2), g.unary(Op::Lgamma, b)), g.unary(Op::Lgamma, g.mul(g.constant(2), b)));
    NodeP power_of_two = g.mul(g.add(g.mul(g.constant(2), eta), g.constant(m - 2)), g.constant(m * M_LN2));
    total = g.add(total, g.add(power_of_two, g.mul(g.constant(m), log_beta)));
  }
  return total;
}

// A draw of the Cholesky factor of a K x K correlation matrix from LKJ(eta), by the
// C-vine of Lewandowski, Kurowicka and Joe (2009): the partial correlations of column j
// (0-based) are 2 Beta(b_j, b_j) - 1 with b_j = eta + (K - 2 - j) / 2, and the factor
// follows from them as in the corr_matrix transform: L[i, j] = z[i][j] sqrt(1 - sum over
// k < j of L[i, k]^2), L[j, j] = sqrt(1 - sum over k < j of L[j, k]^2).
NodeP lkj_factor_draw(CallContext& ctx, int64_t K, NodeP eta) {
  ir::Graph& g = ctx.g;
  if (K == 0) return g.zeros({0, 0});
  int64_t free = K * (K - 1) / 2;
  std::vector<NodeP> z(static_cast<size_t>(K * K));
  if (free > 0) {
    std::vector<NodeP> shift;
    for (int64_t j = 0; j < K; ++j)
      for (int64_t i = j + 1; i < K; ++i) shift.push_back(g.constant(0.5 * static_cast<double>(K - 2 - j)));
    NodeP b = g.add(g.fill(eta, {free}), g.pack(shift, {free}));
    const DistributionEntry& beta = *find_distribution("beta");
    NodeP u = g.random(beta.sampler_id, ctx.draw_site, ir::DType::Real, {free}, {b, b}, ctx.loop_vars);
    NodeP cpc = g.sub(g.mul(g.constant(2), u), g.constant(1));
    int64_t pos = 0;
    for (int64_t j = 0; j < K; ++j)
      for (int64_t i = j + 1; i < K; ++i) z[static_cast<size_t>(i + j * K)] = g.index(cpc, 0, g.int_constant(pos++));
  }
  std::vector<NodeP> L(static_cast<size_t>(K * K), g.constant(0));
  for (int64_t i = 0; i < K; ++i) {
    NodeP used = g.constant(0);
    for (int64_t j = 0; j < i; ++j) {
      NodeP x = g.mul(z[static_cast<size_t>(i + j * K)], g.unary(Op::Sqrt, g.sub(g.constant(1), used)));
      L[static_cast<size_t>(i + j * K)] = x;
      used = g.add(used, g.mul(x, x));
    }
    L[static_cast<size_t>(i + i * K)] = g.unary(Op::Sqrt, g.sub(g.constant(1), used));
  }
  return g.pack(L, {K, K});
}

// lkj_corr_cholesky(L | eta): the density of the Cholesky factor L of a correlation matrix
// when Omega = L L' ~ LKJ(eta): sum over rows r = 2..K of (K - r + 2 eta - 2) log L[r, r],
// minus the normaliser. lkj_corr(Omega | eta): (eta - 1) log det(Omega) minus the normaliser.
DistributionEntry lkj(bool cholesky) {
  DistributionEntry d;
  d.name = cholesky ? "lkj_corr_cholesky" : "lkj_corr";
  d.discrete = false;
  d.variate = Domain::Any;
  d.params = {{"Shape parameter", Domain::PositiveFinite}};
  d.elementwise = false;
  std::string name = d.name;
  d.signature = [name](const Type& y, const std::vector<Type>& p, std::string* why) {
    bool ok = p.size() == 1 && is(y, Base::Matrix) && (p[0].is_error() || p[0].is_scalar());
    if (!ok) *why = "no matching signature for " + name + ": expected (matrix | real)";
    return ok;
  };
  d.rng_signature = [name](const std::vector<Type>& a, std::string* why) -> Type {
    if (a.size() == 2 && (a[0].is_error() || a[0].is_int()) && (a[1].is_error() || a[1].is_scalar())) return Type::matrix();
    *why = "no matching signature for " + name + "_rng(" + [&] {
      std::string s;
      for (size_t i = 0; i < a.size(); ++i) s += (i ? ", " : "") + a[i].str();
      return s;
    }() + "); expected " + name + "_rng(int K, real eta)";
    return Type::error();
  };
  d.draw = [cholesky, name](CallContext& ctx, const std::vector<NodeP>& p, const std::vector<int64_t>&) -> NodeP {
    ir::Graph& g = ctx.g;
    if (!p[0]->is_const()) ctx.error(name + "_rng: the size K must be known from data");
    auto K = static_cast<int64_t>(p[0]->value);
    if (K < 0) ctx.error(name + "_rng: the size K must be non-negative, got " + std::to_string(K));
    NodeP eta = p[1];
    ctx.check(g.unary(Op::Not, g.binary(Op::Gt, eta, g.constant(0))), name + "_rng: Shape parameter must be positive",
              eta, "Shape parameter");
    NodeP l = lkj_factor_draw(ctx, K, eta);
    return cholesky || K == 0 ? l : g.matmul(l, g.transpose(l));
  };
  d.terms = [cholesky, name](CallContext& ctx, const Value& y, const Params& p, int64_t) -> Terms {
    ir::Graph& g = ctx.g;
    NodeP m = g.cast_real(y.node), eta = g.cast_real(p[0].node);
    require_square(ctx, m, cholesky ? "the Cholesky factor" : "the correlation matrix");
    check_parameters(ctx, *find_distribution(name), p);
    int64_t size = m->dims[0];
    if (size == 0) return {};
    NodeP normalizer = g.neg(lkj_log_normalizer(g, eta, size));
    if (!cholesky) {
      // A correlation matrix: unit diagonal (Stan's check_corr_matrix, tolerance 1e-8), positive definite.
      NodeP off = g.unary(Op::Abs, g.sub(diagonal_of(g, m), g.constant(1)));
      auto [any, worst] = g.any_violation(g.unary(Op::Not, g.binary(Op::Le, off, g.constant(1e-8))), off);
      ctx.check(any, name + ": the correlation matrix must have ones on its diagonal", worst, "|diagonal - 1|");
      NodeP l = checked_cholesky(ctx, m, "the correlation matrix");
      NodeP log_det = g.mul(g.constant(2), g.sum(g.unary(Op::Log, diagonal_of(g, l))));
      return {normalizer, g.mul(g.sub(eta, g.constant(1)), log_det)};
    }
    if (size == 1) return {normalizer};
    // Rows 2..K (0-based 1..K-1): weights K - r + 2 eta - 2 = (K - 1 - i) + 2 eta - 2 for 0-based row i.
    NodeP log_diagonal = g.slice(g.unary(Op::Log, diagonal_of(g, m)), 0, g.int_constant(1), size - 1);
    std::vector<NodeP> weights;
    for (int64_t i = 1; i < size; ++i) weights.push_back(g.constant(static_cast<double>(size - 1 - i)));
    NodeP fixed = g.sum(g.mul(g.pack(weights, {size - 1}), log_diagonal));
    NodeP shaped = g.mul(g.sub(g.mul(g.constant(2), eta), g.constant(2)), g.sum(log_diagonal));
    return {normalizer, fixed, shaped};
  };
  return d;
}

}  // namespace

void register_multivariate_distributions(std::vector<DistributionEntry>& out) {
  out.push_back(multi_normal(false));
  out.push_back(multi_normal(true));
  out.push_back(lkj(false));
  out.push_back(lkj(true));
}

}  // namespace latent::stdlib
