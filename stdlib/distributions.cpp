// Distributions: one entry each, holding every fact about it (see
// DistributionEntry): `terms` returns the log density as separate scalar terms,
// each summed over the broadcast size, so that `~` can drop the ones that do not
// depend on parameters (Stan's propto semantics); the argument checks come from
// the declared domains (stdlib/library.cpp); then the mean, the sampler of
// `name_rng`, and for Gaussians the location and scale (reparameterised draws
// and closed-form KL follow from them).
#include "stdlib/ir_math.hpp"
#include "stdlib/library.hpp"

#include <cmath>
#include <random>

namespace latent::stdlib {

namespace {

using ir::NodeP;
using ir::Op;

constexpr int64_t kMaxMultinomialNoise = int64_t{1} << 24;  // N x K Gumbel draws of one multinomial_rng call

// Helpers over the IR graph, named like the math they write.
struct Math {
  ir::Graph& g;
  int64_t size;  // broadcast size of the call
  NodeP c(double v) { return g.constant(v); }
  NodeP r(const Value& v) { return g.cast_real(v.node); }
  NodeP add(NodeP a, NodeP b) { return g.add(a, b); }
  NodeP sub(NodeP a, NodeP b) { return g.sub(a, b); }
  NodeP mul(NodeP a, NodeP b) { return g.mul(a, b); }
  NodeP div(NodeP a, NodeP b) { return g.div(a, b); }
  NodeP neg(NodeP a) { return g.neg(a); }
  NodeP log(NodeP a) { return g.unary(Op::Log, a); }
  NodeP log1p(NodeP a) { return g.unary(Op::Log1p, a); }
  NodeP log1m(NodeP a) { return g.unary(Op::Log1p, g.neg(a)); }
  NodeP exp(NodeP a) { return g.unary(Op::Exp, a); }
  NodeP lgamma(NodeP a) { return g.unary(Op::Lgamma, a); }
  NodeP log1p_exp(NodeP a) { return g.unary(Op::Log1pExp, a); }
  NodeP square(NodeP a) { return g.mul(a, a); }
  // Sum of an elementwise term over the call's broadcast size.
  NodeP total(NodeP t) { return t->is_scalar() ? g.mul(t, c(static_cast<double>(size))) : g.sum(t); }
  NodeP constant_term(double per_element) { return c(per_element * static_cast<double>(size)); }
};

constexpr double kLogSqrtTwoPi = 0.91893853320467274178;  // log(sqrt(2 pi))
constexpr double kLogPi = 1.14472988584940017414;

using Terms = std::vector<NodeP>;
using Params = std::vector<Value>;

DistributionEntry continuous(std::string name, Domain variate, std::vector<std::pair<std::string, Domain>> params,
                             std::function<Terms(Math&, const Value&, const Params&)> f) {
  DistributionEntry d;
  d.name = std::move(name);
  d.discrete = false;
  d.variate = variate;
  d.params = std::move(params);
  d.terms = [f](CallContext& ctx, const Value& y, const Params& p, int64_t size) {
    Math m{ctx.g, size};
    return f(m, y, p);
  };
  return d;
}

DistributionEntry discrete(std::string name, Domain variate, std::vector<std::pair<std::string, Domain>> params,
                           std::function<Terms(Math&, const Value&, const Params&)> f) {
  DistributionEntry d = continuous(std::move(name), variate, std::move(params), std::move(f));
  d.discrete = true;
  return d;
}

constexpr double kHalfLogTwoPi = 0.91893853320467274178;

using Elementwise = std::function<NodeP(ir::Graph&, const std::vector<NodeP>&)>;

// A Gaussian with location and scale given by `loc_scale`: mean, draw loc + scale * eps,
// log q = sum(-eps^2 / 2 - log scale) - count log sqrt(2 pi).
void gaussian(DistributionEntry& d,
              std::function<std::pair<NodeP, NodeP>(ir::Graph&, const std::vector<NodeP>&)> loc_scale) {
  d.gaussian = loc_scale;
  d.mean = [loc_scale](ir::Graph& g, const std::vector<NodeP>& p) { return loc_scale(g, p).first; };
  d.reparameterization = DistributionEntry::Reparameterization{
      [loc_scale](ir::Graph& g, const std::vector<NodeP>& p, NodeP eps) {
        auto [loc, scale] = loc_scale(g, p);
        return g.add(loc, g.mul(scale, eps));
      },
      [loc_scale](ir::Graph& g, const std::vector<NodeP>& p, NodeP eps, int64_t count) {
        auto [loc, scale] = loc_scale(g, p);
        NodeP per_element = g.mul(g.constant(-0.5), g.mul(eps, eps));
        if (!scale->is_const(1)) per_element = g.sub(per_element, g.unary(Op::Log, scale));
        return g.sub(g.sum(per_element), g.constant(kHalfLogTwoPi * static_cast<double>(count)));
      }};
}

// log binomial coefficient: lgamma(N + 1) - lgamma(n + 1) - lgamma(N - n + 1)
NodeP lchoose(Math& m, NodeP N, NodeP n) {
  return m.sub(m.sub(m.lgamma(m.add(N, m.c(1))), m.lgamma(m.add(n, m.c(1)))), m.lgamma(m.add(m.sub(N, n), m.c(1))));
}

double inv_logit(double x) { return 1 / (1 + std::exp(-x)); }

// Stan's poisson_rng refuses rates of 2^30 and more.
constexpr double kMaxPoissonRate = 1073741824.0;

double gamma_draw(RandomEngine& e, double shape, double rate) { return std::gamma_distribution<double>(shape, 1 / rate)(e); }

int64_t poisson_draw(RandomEngine& e, double rate) {
  return rate == 0 ? 0 : std::poisson_distribution<int64_t>(rate)(e);
}

// A Gumbel(0, 1) draw: -log(E) for E ~ exponential(1), E > 0.
double standard_gumbel(RandomEngine& e) {
  std::exponential_distribution<double> exponential(1);
  double x = 0;
  while (x == 0) x = exponential(e);
  return -std::log(x);
}

// Categorical outcomes, one per row of log odds (categorical_logit) or of
// probabilities (categorical): the variate is an int (with a vector), an array
// of ints (with a vector for all of them, or a matrix with a row for each), or a
// matrix of one-hot rows (or soft ones: the cross-entropy) with a matrix, as a
// network's output gives them. Draws by the Gumbel-max trick: the category of
// the largest log odds plus standard Gumbel noise.
DistributionEntry categorical(const std::string& name, bool logit) {
  DistributionEntry d;
  d.name = name;
  d.discrete = true;
  d.variate = Domain::Int;
  d.params = {{logit ? "log odds parameter" : "probabilities parameter", logit ? Domain::Finite : Domain::Probability}};
  d.elementwise = false;
  d.signature = [name](const Type& y, const std::vector<Type>& p, std::string* why) {
    bool ok = p.size() == 1;
    if (ok) {
      const Type& t = p[0];
      bool vector = t.is_error() || (t.array_dims == 0 && t.base == Base::Vector);
      bool matrix = t.is_error() || (t.array_dims == 0 && t.base == Base::Matrix);
      bool one = y.is_error() || y == Type::int_();
      bool many = y.is_error() || y == Type::int_(1);
      bool rows = y.is_error() || (y.array_dims == 0 && y.base == Base::Matrix);
      ok = (one && vector) || (many && (vector || matrix)) || (rows && matrix);
    }
    if (!ok)
      *why = "no matching signature for " + name + ": expected an outcome and a vector (int | vector), outcomes and "
             "a vector or a matrix with a row per outcome (array[] int | vector or matrix), or one-hot rows and a "
             "matrix (matrix | matrix)";
    return ok;
  };
  // The parameter's checks: finite log odds, or rows of probabilities summing to 1.
  auto check = [name, logit](CallContext& ctx, const DistributionEntry& self, NodeP x) {
    ir::Graph& g = ctx.g;
    int64_t k = x->dims.size() == 2 ? x->dims[1] : x->dims.empty() ? 0 : x->dims[0];
    if (k == 0) ctx.error(name + ": the parameter has no categories");
    check_parameters(ctx, self, {Value{x, x->dims.size() == 2 ? Type::matrix() : Type::vector()}});
    if (logit) return;
    NodeP sums = x->dims.size() == 2 ? g.matmul(x, g.fill(g.constant(1), {k})) : g.sum(x);
    NodeP off = g.binary(Op::Gt, g.unary(Op::Abs, g.sub(sums, g.constant(1))), g.constant(1e-8));
    auto [any, worst] = g.any_violation(off, sums);
    ctx.check(any, name + ": the probabilities of each outcome must sum to 1", worst, "sum");
  };
  d.terms = [name, logit, check](CallContext& ctx, const Value& y, const Params& p, int64_t) -> Terms {
    ir::Graph& g = ctx.g;
    NodeP x = g.cast_real(p[0].node);
    const DistributionEntry* self = find_distribution(name);
    check(ctx, *self, x);
    bool matrix = x->dims.size() == 2;
    int64_t k = matrix ? x->dims[1] : x->dims[0];
    NodeP log_p = !logit ? g.unary(Op::Log, x) : matrix ? log_softmax_rows(g, x) : log_softmax_vector(g, x);
    if (y.type.base == Base::Matrix) {  // one-hot (or soft) rows
      if (y.node->dims != x->dims)
        ctx.error(name + ": the outcomes are a " + std::to_string(y.node->dims[0]) + " x " +
                  std::to_string(y.node->dims[1]) + " matrix, the parameter a " + std::to_string(x->dims[0]) + " x " +
                  std::to_string(k) + " one");
      return {g.sum(g.mul(g.cast_real(y.node), log_p))};
    }
    NodeP outcomes = y.node;
    NodeP bad = g.binary(Op::Or, g.binary(Op::Lt, outcomes, g.int_constant(1)), g.binary(Op::Gt, outcomes, g.int_constant(k)));
    auto [any, worst] = g.any_violation(bad, outcomes);
    ctx.check(any, name + ": outcome must be in 1.." + std::to_string(k), worst, "outcome");
    if (outcomes->is_scalar()) {
      NodeP i = g.binary(Op::Max, g.int_constant(0), g.binary(Op::Min, g.sub(outcomes, g.int_constant(1)), g.int_constant(k - 1)));
      return {g.index(log_p, 0, i)};
    }
    int64_t m = outcomes->dims[0];
    if (matrix && x->dims[0] != m)
      ctx.error(name + ": " + std::to_string(m) + " outcomes, but the parameter has " + std::to_string(x->dims[0]) +
                " rows");
    NodeP one_hot = one_hot_rows(g, outcomes, k);
    return {matrix ? g.sum(g.mul(one_hot, log_p)) : g.sum(g.matmul(one_hot, log_p))};
  };
  d.mean = [logit](ir::Graph& g, const std::vector<NodeP>& p) {
    NodeP x = p[0];
    if (!logit) return x;
    return g.unary(Op::Exp, x->dims.size() == 2 ? log_softmax_rows(g, x) : log_softmax_vector(g, x));
  };
  d.draw = [name, logit, check](CallContext& ctx, const std::vector<NodeP>& p, const std::vector<int64_t>& dims) -> NodeP {
    ir::Graph& g = ctx.g;
    NodeP x = p[0];
    check(ctx, *find_distribution(name), x);
    NodeP log_odds = logit ? x : g.unary(Op::Log, x);
    const DistributionEntry& gumbel = *find_distribution("gumbel");
    NodeP noise = g.random(gumbel.sampler_id, ctx.draw_site, ir::DType::Real, x->dims, {g.constant(0), g.constant(1)},
                           ctx.loop_vars);
    NodeP z = g.add(log_odds, noise);
    if (dims.empty()) {  // one outcome (1-based): the index of the largest z
      int64_t k = x->dims[0];
      std::vector<NodeP> index;
      for (int64_t i = 1; i <= k; ++i) index.push_back(g.int_constant(i));
      NodeP is_max = g.binary(Op::Eq, z, g.fill(g.max_reduce(z), {k}));
      return g.sum(g.mul(is_max, g.pack(index, {k})));
    }
    // One-hot rows: 1 where a row's z is largest.
    return g.cast_real(g.binary(Op::Eq, z, across_columns(g, row_max(g, z), x->dims[1])));
  };
  return d;
}


// Counts y[K] (array[] int) of N = sum(y) draws among K categories, with
// probabilities theta (multinomial, a simplex) or log odds gamma
// (multinomial_logit, theta = softmax(gamma)):
//   log p(y) = lgamma(N + 1) - sum lgamma(y_k + 1) + sum y_k log theta_k
// (the first two terms are constants under `~` when y is data). `_rng(theta, N)`
// draws N categorical outcomes by the Gumbel-max trick and counts them: N must be
// known from the data, and N x K noise values are drawn.
DistributionEntry multinomial(const std::string& name, bool logit) {
  DistributionEntry d;
  d.name = name;
  d.discrete = true;
  d.variate = Domain::NonNegativeInt;
  d.params = {{logit ? "log-probabilities parameter" : "probabilities parameter",
               logit ? Domain::Finite : Domain::Probability}};
  d.elementwise = false;
  auto is = [](const Type& t, Base b, int dims) { return t.is_error() || (t.base == b && t.array_dims == dims); };
  d.signature = [name, is](const Type& y, const std::vector<Type>& p, std::string* why) {
    bool ok = p.size() == 1 && is(y, Base::Int, 1) && is(p[0], Base::Vector, 0);
    if (!ok) *why = "no matching signature for " + name + ": expected counts and a vector (array[] int | vector)";
    return ok;
  };
  d.rng_signature = [name, is](const std::vector<Type>& a, std::string* why) -> Type {
    if (a.size() == 2 && is(a[0], Base::Vector, 0) && (a[1].is_error() || a[1] == Type::int_())) return Type::int_(1);
    *why = "no matching signature for " + name + "_rng: expected " + name + "_rng(vector, int N)";
    return Type::error();
  };
  // The parameter's checks: finite log odds, or a simplex.
  auto check = [name, logit](CallContext& ctx, const DistributionEntry& self, NodeP x) {
    ir::Graph& g = ctx.g;
    if (x->dims.size() != 1 || x->dims[0] == 0) ctx.error(name + ": the parameter has no categories");
    check_parameters(ctx, self, {Value{x, Type::vector()}});
    if (logit) return;
    NodeP sum = g.sum(x);
    ctx.check(g.binary(Op::Gt, g.unary(Op::Abs, g.sub(sum, g.constant(1))), g.constant(1e-8)),
              name + ": probabilities parameter is not a valid simplex (its elements must sum to 1)", sum, "sum");
  };
  d.terms = [name, logit, check](CallContext& ctx, const Value& y, const Params& p, int64_t) -> Terms {
    ir::Graph& g = ctx.g;
    NodeP x = g.cast_real(p[0].node);
    check(ctx, *find_distribution(name), x);
    if (y.node->dims != x->dims)
      ctx.error(name + ": " + std::to_string(y.node->dims[0]) + " counts, but the parameter has " +
                std::to_string(x->dims[0]) + " categories");
    NodeP counts = g.cast_real(y.node);
    NodeP negative = g.binary(Op::Lt, y.node, g.int_constant(0));
    auto [any, worst] = g.any_violation(negative, y.node);
    ctx.check(any, name + ": number of trials variable must be non-negative", worst, "count");
    Math m{g, 1};
    NodeP normaliser = m.sub(m.lgamma(m.add(g.sum(counts), m.c(1))), g.sum(m.lgamma(m.add(counts, m.c(1)))));
    if (logit) return {normaliser, g.sum(m.mul(counts, log_softmax_vector(g, x)))};
    // 0 log 0 = 0: a category of probability 0 that is never seen costs nothing.
    NodeP seen = g.binary(Op::Gt, counts, m.c(0));
    return {normaliser, g.sum(g.select(seen, m.mul(counts, m.log(x)), m.c(0)))};
  };
  d.mean = [logit](ir::Graph& g, const std::vector<NodeP>& p) {
    return logit ? g.unary(Op::Exp, log_softmax_vector(g, p[0])) : p[0];
  };
  d.draw = [name, logit, check](CallContext& ctx, const std::vector<NodeP>& p, const std::vector<int64_t>&) -> NodeP {
    ir::Graph& g = ctx.g;
    NodeP x = g.cast_real(p[0]);
    check(ctx, *find_distribution(name), x);
    if (!p[1]->is_const()) ctx.error(name + "_rng: the number of trials N must be known from the data");
    auto trials = static_cast<int64_t>(p[1]->value);
    int64_t k = x->dims[0];
    if (trials < 0) ctx.error(name + "_rng: the number of trials N must be non-negative, got " + std::to_string(trials));
    if (trials == 0) return g.fill(g.int_constant(0), {k});
    if (trials > kMaxMultinomialNoise / k)
      ctx.error(name + "_rng: N x K = " + std::to_string(trials) + " x " + std::to_string(k) +
                " noise values are more than the " + std::to_string(kMaxMultinomialNoise) + " this draw may use");
    NodeP log_odds = logit ? x : g.unary(Op::Log, x);
    const DistributionEntry& gumbel = *find_distribution("gumbel");
    NodeP noise = g.random(gumbel.sampler_id, ctx.draw_site, ir::DType::Real, {trials, k},
                           {g.constant(0), g.constant(1)}, ctx.loop_vars);
    NodeP z = g.add(g.transpose(across_columns(g, log_odds, trials)), noise);  // a row of log odds per trial
    NodeP one_hot = g.cast_real(g.binary(Op::Eq, z, across_columns(g, row_max(g, z), k)));
    return g.unary(Op::RealToInt, g.matmul(g.fill(g.constant(1), {trials}), one_hot));
  };
  return d;
}

// Dirichlet over a simplex theta (a vector) with concentrations alpha (a vector of
// the same size): lgamma(sum alpha) - sum lgamma(alpha) + sum((alpha - 1) log theta).
// Draws normalise independent gamma(alpha_k, 1) draws.
DistributionEntry dirichlet() {
  DistributionEntry d;
  d.name = "dirichlet";
  d.discrete = false;
  d.variate = Domain::Probability;
  d.params = {{"prior sample sizes", Domain::PositiveFinite}};
  d.elementwise = false;
  d.signature = [](const Type& y, const std::vector<Type>& p, std::string* why) {
    auto vector = [](const Type& t) { return t.is_error() || (t.array_dims == 0 && t.base == Base::Vector); };
    bool ok = p.size() == 1 && vector(y) && vector(p[0]);
    if (!ok) *why = "no matching signature for dirichlet: expected a simplex and a vector of concentrations (vector | vector)";
    return ok;
  };
  auto check_alpha = [](CallContext& ctx, NodeP alpha) {
    if (alpha->dims.size() != 1 || alpha->dims[0] == 0) ctx.error("dirichlet: the prior sample sizes must not be empty");
    check_parameters(ctx, *find_distribution("dirichlet"), {Value{alpha, Type::vector()}});
  };
  d.terms = [check_alpha](CallContext& ctx, const Value& y, const Params& p, int64_t) -> Terms {
    ir::Graph& g = ctx.g;
    NodeP theta = g.cast_real(y.node), alpha = g.cast_real(p[0].node);
    if (theta->dims != alpha->dims)
      ctx.error("dirichlet: the simplex has " + std::to_string(theta->dims[0]) + " elements, the prior sample sizes " +
                std::to_string(alpha->dims[0]));
    check_alpha(ctx, alpha);
    NodeP negative = g.unary(Op::Not, g.binary(Op::Ge, theta, g.constant(0)));
    auto [any_negative, worst] = g.any_violation(negative, theta);
    ctx.check(any_negative, "dirichlet: probabilities parameter must be non-negative", worst, "probability");
    NodeP sum = g.sum(theta);
    ctx.check(g.binary(Op::Gt, g.unary(Op::Abs, g.sub(sum, g.constant(1))), g.constant(1e-8)),
              "dirichlet: probabilities parameter is not a valid simplex (its elements must sum to 1)", sum, "sum");
    Math m{g, 1};
    NodeP normaliser = m.sub(m.lgamma(g.sum(alpha)), g.sum(m.lgamma(alpha)));
    return {normaliser, g.sum(m.mul(m.sub(alpha, m.c(1)), m.log(theta)))};
  };
  d.mean = [](ir::Graph& g, const std::vector<NodeP>& p) { return g.div(p[0], g.fill(g.sum(p[0]), p[0]->dims)); };
  d.draw = [check_alpha](CallContext& ctx, const std::vector<NodeP>& p, const std::vector<int64_t>&) -> NodeP {
    ir::Graph& g = ctx.g;
    NodeP alpha = p[0];
    check_alpha(ctx, alpha);
    const DistributionEntry& gamma = *find_distribution("gamma");
    NodeP x = g.random(gamma.sampler_id, ctx.draw_site, ir::DType::Real, alpha->dims, {alpha, g.constant(1)},
                       ctx.loop_vars);
    return g.div(x, g.fill(g.sum(x), alpha->dims));
  };
  return d;
}

// A generalised linear model: `base`(y | alpha + x * beta [, sigma]), with x a
// matrix (a row per outcome) or a row_vector (shared by every outcome), alpha a
// real or a vector, beta a vector. Its density is the base distribution's at the
// linear predictor (its checks and its propto terms included).
DistributionEntry glm(const std::string& name, const std::string& base, bool discrete, bool with_scale) {
  DistributionEntry d;
  d.name = name;
  d.discrete = discrete;
  d.variate = discrete ? Domain::Int : Domain::Any;
  d.params = {{"matrix parameter", Domain::Finite}, {"intercept", Domain::Finite}, {"weight vector", Domain::Finite}};
  if (with_scale) d.params.push_back({"scale vector", Domain::PositiveFinite});
  d.elementwise = false;
  d.has_rng = false;
  d.signature = [name, discrete, with_scale](const Type& y, const std::vector<Type>& p, std::string* why) {
    auto is = [](const Type& t, Base b, int dims = 0) { return t.is_error() || (t.base == b && t.array_dims == dims); };
    bool outcome = discrete ? (is(y, Base::Int) || is(y, Base::Int, 1))
                            : (is(y, Base::Real) || is(y, Base::Int) || is(y, Base::Vector));
    bool ok = outcome && p.size() == (with_scale ? 4u : 3u) && (is(p[0], Base::Matrix) || is(p[0], Base::RowVector)) &&
              (is(p[1], Base::Real) || is(p[1], Base::Int) || is(p[1], Base::Vector)) && is(p[2], Base::Vector);
    if (ok && with_scale) ok = is(p[3], Base::Real) || is(p[3], Base::Int) || is(p[3], Base::Vector);
    if (!ok)
      *why = "no matching signature for " + name + ": expected " + (discrete ? "int or array[] int" : "real or vector") +
             " | matrix or row_vector, real or vector, vector" + (with_scale ? ", real or vector" : "");
    return ok;
  };
  d.terms = [name, base](CallContext& ctx, const Value& y, const Params& p, int64_t) -> Terms {
    ir::Graph& g = ctx.g;
    NodeP x = g.cast_real(p[0].node), beta = g.cast_real(p[2].node);
    int64_t columns = x->dims.back();
    if (beta->dims[0] != columns)
      ctx.error(name + ": the matrix parameter has " + std::to_string(columns) + " columns, the weight vector " +
                std::to_string(beta->dims[0]) + " elements");
    check_parameters(ctx, *find_distribution(name), p);
    NodeP eta = x->dims.size() == 2 ? g.matmul(x, beta) : g.sum(g.mul(x, beta));
    eta = g.add(eta, g.cast_real(p[1].node));
    std::vector<Value> base_params{Value{eta, eta->is_scalar() ? Type::real() : Type::vector()}};
    if (p.size() == 4) base_params.push_back(p[3]);
    return {lower_density(ctx, *find_distribution(base), y, base_params).node};
  };
  return d;
}
}  // namespace

void register_distributions(std::vector<DistributionEntry>& out) {
  const Domain F = Domain::Finite, P = Domain::PositiveFinite, A = Domain::Any;
  using Nodes = std::vector<NodeP>;

  {
    DistributionEntry d = continuous("normal", A, {{"location parameter", F}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP z = m.div(m.sub(m.r(y), m.r(p[0])), m.r(p[1]));
                                       return {m.constant_term(-kLogSqrtTwoPi), m.neg(m.total(m.log(m.r(p[1])))),
                                               m.mul(m.c(-0.5), m.total(m.square(z)))};
                                     });
    gaussian(d, [](ir::Graph&, const Nodes& p) { return std::make_pair(p[0], p[1]); });
    d.sample = [](RandomEngine& e, const double* p) { return std::normal_distribution<double>(p[0], p[1])(e); };
    // P(Y <= y) = Phi((y - mu) / sigma); the complement by symmetry.
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.unary(Op::LogPhi, g.div(g.sub(y, p[0]), p[1]));
    };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.unary(Op::LogPhi, g.div(g.sub(p[0], y), p[1]));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("std_normal", A, {}, [](Math& m, const Value& y, const Params&) -> Terms {
      return {m.constant_term(-kLogSqrtTwoPi), m.mul(m.c(-0.5), m.total(m.square(m.r(y))))};
    });
    gaussian(d, [](ir::Graph& g, const Nodes&) { return std::make_pair(g.constant(0), g.constant(1)); });
    d.sample = [](RandomEngine& e, const double*) { return std::normal_distribution<double>(0, 1)(e); };
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes&) { return g.unary(Op::LogPhi, y); };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes&) { return g.unary(Op::LogPhi, g.neg(y)); };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("cauchy", A, {{"location parameter", F}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP z = m.div(m.sub(m.r(y), m.r(p[0])), m.r(p[1]));
                                       return {m.constant_term(-kLogPi), m.neg(m.total(m.log(m.r(p[1])))),
                                               m.neg(m.total(m.log1p(m.square(z))))};
                                     });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[0]; };  // the median: the mean does not exist
    d.sample = [](RandomEngine& e, const double* p) { return std::cauchy_distribution<double>(p[0], p[1])(e); };
    // P(Y <= y) = 1/2 + atan(z) / pi; the complement by symmetry.
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      NodeP z = g.div(g.sub(y, p[0]), p[1]);
      return g.unary(Op::Log, g.add(g.constant(0.5), g.mul(g.constant(M_1_PI), g.unary(Op::Atan, z))));
    };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      NodeP z = g.div(g.sub(y, p[0]), p[1]);
      return g.unary(Op::Log, g.sub(g.constant(0.5), g.mul(g.constant(M_1_PI), g.unary(Op::Atan, z))));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous(
        "student_t", A, {{"degrees of freedom parameter", P}, {"location parameter", F}, {"scale parameter", P}},
        [](Math& m, const Value& y, const Params& p) -> Terms {
          NodeP nu = m.r(p[0]), sigma = m.r(p[2]);
          NodeP z = m.div(m.sub(m.r(y), m.r(p[1])), sigma);
          NodeP half_nu = m.mul(m.c(0.5), nu);
          return {m.constant_term(-0.5 * kLogPi),
                  m.total(m.sub(m.sub(m.lgamma(m.add(half_nu, m.c(0.5))), m.lgamma(half_nu)), m.mul(m.c(0.5), m.log(nu)))),
                  m.neg(m.total(m.log(sigma))),
                  m.neg(m.total(m.mul(m.add(half_nu, m.c(0.5)), m.log1p(m.div(m.square(z), nu)))))};
        });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[1]; };  // the location (the mean for nu > 1)
    d.sample = [](RandomEngine& e, const double* p) {
      return p[1] + p[2] * std::student_t_distribution<double>(p[0])(e);
    };
    // P(Y <= y) = F((y - mu) / sigma; nu) and, by symmetry, P(Y > y) = F(-(y - mu) / sigma; nu).
    auto standardized = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.div(g.sub(y, p[1]), p[2]); };
    d.log_cdf = [standardized](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.binary(Op::StudentTLcdf, standardized(g, y, p), p[0]);
    };
    d.log_ccdf = [standardized](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.binary(Op::StudentTLcdf, g.neg(standardized(g, y, p)), p[0]);
    };
    d.cdf_fixed_params = {0};  // no derivative in nu (the incomplete beta function's in its parameter)
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("exponential", Domain::NonNegative, {{"inverse scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP beta = m.r(p[0]);
                                       return {m.total(m.log(beta)), m.neg(m.total(m.mul(beta, m.r(y))))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.div(g.constant(1), p[0]); };
    d.sample = [](RandomEngine& e, const double* p) { return std::exponential_distribution<double>(p[0])(e); };
    // P(Y <= y) = 1 - exp(-beta y).
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return log1m_exp(g, g.neg(g.mul(p[0], y))); };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.neg(g.mul(p[0], y)); };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("gamma", Domain::NonNegative, {{"shape parameter", P}, {"inverse scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP a = m.r(p[0]), b = m.r(p[1]), x = m.r(y);
                                       return {m.neg(m.total(m.lgamma(a))), m.total(m.mul(a, m.log(b))),
                                               m.total(m.mul(m.sub(a, m.c(1)), m.log(x))), m.neg(m.total(m.mul(b, x)))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.div(p[0], p[1]); };
    d.sample = [](RandomEngine& e, const double* p) { return gamma_draw(e, p[0], p[1]); };
    // P(Y <= y) = P(alpha, beta y), the regularised incomplete gamma function.
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.binary(Op::GammaLcdf, g.mul(p[1], y), p[0]); };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.binary(Op::GammaLccdf, g.mul(p[1], y), p[0]); };
    d.cdf_fixed_params = {0};  // no derivative in the shape
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("inv_gamma", Domain::NonNegative, {{"shape parameter", P}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP a = m.r(p[0]), b = m.r(p[1]), x = m.r(y);
                                       return {m.neg(m.total(m.lgamma(a))), m.total(m.mul(a, m.log(b))),
                                               m.neg(m.total(m.mul(m.add(a, m.c(1)), m.log(x)))), m.neg(m.total(m.div(b, x)))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) {  // b / (a - 1), infinite for a <= 1
      return g.select(g.binary(Op::Gt, p[0], g.constant(1)), g.div(p[1], g.sub(p[0], g.constant(1))),
                      g.constant(INFINITY));
    };
    d.sample = [](RandomEngine& e, const double* p) { return 1 / gamma_draw(e, p[0], p[1]); };
    // P(Y <= y) = Q(alpha, beta / y): 1/Y is gamma(alpha, beta).
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.binary(Op::GammaLccdf, g.div(p[1], y), p[0]); };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.binary(Op::GammaLcdf, g.div(p[1], y), p[0]); };
    d.cdf_fixed_params = {0};  // no derivative in the shape
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("beta", Domain::Probability,
                                     {{"first success parameter", P}, {"second success parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP a = m.r(p[0]), b = m.r(p[1]), x = m.r(y);
                                       return {m.total(m.sub(m.sub(m.lgamma(m.add(a, b)), m.lgamma(a)), m.lgamma(b))),
                                               m.total(m.mul(m.sub(a, m.c(1)), m.log(x))),
                                               m.total(m.mul(m.sub(b, m.c(1)), m.log1m(x)))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.div(p[0], g.add(p[0], p[1])); };
    d.sample = [](RandomEngine& e, const double* p) {
      double x = gamma_draw(e, p[0], 1), y = gamma_draw(e, p[1], 1);
      return x / (x + y);
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("lognormal", Domain::NonNegative, {{"location parameter", F}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP logy = m.log(m.r(y));
                                       NodeP z = m.div(m.sub(logy, m.r(p[0])), m.r(p[1]));
                                       return {m.constant_term(-kLogSqrtTwoPi), m.neg(m.total(m.log(m.r(p[1])))),
                                               m.neg(m.total(logy)), m.mul(m.c(-0.5), m.total(m.square(z)))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) {
      return g.unary(Op::Exp, g.add(p[0], g.mul(g.constant(0.5), g.mul(p[1], p[1]))));
    };
    d.sample = [](RandomEngine& e, const double* p) { return std::lognormal_distribution<double>(p[0], p[1])(e); };
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.unary(Op::LogPhi, g.div(g.sub(g.unary(Op::Log, y), p[0]), p[1]));
    };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.unary(Op::LogPhi, g.div(g.sub(p[0], g.unary(Op::Log, y)), p[1]));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("uniform", A, {{"lower bound parameter", F}, {"upper bound parameter", F}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP x = m.r(y), lo = m.r(p[0]), hi = m.r(p[1]);
                                       // Outside the support the density is zero (-inf).
                                       NodeP outside = m.g.binary(Op::Or, m.g.binary(Op::Lt, x, lo), m.g.binary(Op::Gt, x, hi));
                                       NodeP support = m.total(m.g.select(outside, m.c(-INFINITY), m.c(0)));
                                       return {m.neg(m.total(m.log(m.sub(hi, lo)))), support};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.mul(g.constant(0.5), g.add(p[0], p[1])); };
    d.sample = [](RandomEngine& e, const double* p) { return std::uniform_real_distribution<double>(p[0], p[1])(e); };
    // (y - a) / (b - a) with y clamped to [a, b]: -inf below the support, 0 above.
    auto clamped = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.binary(Op::Min, g.binary(Op::Max, y, p[0]), p[1]);
    };
    d.log_cdf = [clamped](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.unary(Op::Log, g.div(g.sub(clamped(g, y, p), p[0]), g.sub(p[1], p[0])));
    };
    d.log_ccdf = [clamped](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.unary(Op::Log, g.div(g.sub(p[1], clamped(g, y, p)), g.sub(p[1], p[0])));
    };
    out.push_back(d);
  }

  {
    DistributionEntry d = discrete("bernoulli", Domain::Binary, {{"probability parameter", Domain::Probability}},
                                   [](Math& m, const Value& n, const Params& p) -> Terms {
                                     NodeP theta = m.r(p[0]);
                                     if (n.type.base != Base::Int)  // soft outcome y in [0, 1]: y log theta + (1 - y) log1m theta
                                       return {m.total(m.mul(m.r(n), m.log(theta))),
                                               m.total(m.mul(m.sub(m.c(1), m.r(n)), m.log1m(theta)))};
                                     // Each branch sees a safe argument where it is not taken (theta = 1
                                     // with n = 1 would otherwise give 0 * inf = NaN in the gradient).
                                     NodeP one = m.g.binary(Op::Eq, n.node, m.g.int_constant(1));
                                     NodeP when_one = m.g.select(one, theta, m.c(1)), when_zero = m.g.select(one, m.c(0), theta);
                                     return {m.total(m.g.select(one, m.log(when_one), m.log1m(when_zero)))};
                                   });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[0]; };
    d.sample = [](RandomEngine& e, const double* p) { return std::bernoulli_distribution(p[0])(e) ? 1.0 : 0.0; };
    out.push_back(d);
  }
  {
    DistributionEntry d = discrete("bernoulli_logit", Domain::Binary, {{"logit probability parameter", A}},
                                   [](Math& m, const Value& n, const Params& p) -> Terms {
                                     // soft outcome y in [0, 1]: y alpha - log1p_exp(alpha) (binary cross-entropy)
                                     if (n.type.base != Base::Int)
                                       return {m.total(m.sub(m.mul(m.r(n), m.r(p[0])), m.log1p_exp(m.r(p[0]))))};
                                     // log inv_logit(s * alpha) = -log1p_exp(-s * alpha), s = 2n - 1
                                     NodeP s = m.sub(m.mul(m.c(2), m.r(n)), m.c(1));
                                     return {m.neg(m.total(m.log1p_exp(m.neg(m.mul(s, m.r(p[0]))))))};
                                   });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.unary(Op::InvLogit, p[0]); };
    d.sample = [](RandomEngine& e, const double* p) {
      return std::bernoulli_distribution(inv_logit(p[0]))(e) ? 1.0 : 0.0;
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = discrete(
        "binomial", Domain::NonNegativeInt,
        {{"population size parameter", Domain::NonNegativeInt}, {"probability parameter", Domain::Probability}},
        [](Math& m, const Value& n, const Params& p) -> Terms {
          NodeP k = m.r(n), N = m.r(p[0]), theta = m.r(p[1]);
          return {m.total(lchoose(m, N, k)), m.total(m.mul(k, m.log(theta))), m.total(m.mul(m.sub(N, k), m.log1m(theta)))};
        });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.mul(p[0], p[1]); };
    d.sample = [](RandomEngine& e, const double* p) {
      return static_cast<double>(std::binomial_distribution<int64_t>(static_cast<int64_t>(p[0]), p[1])(e));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = discrete(
        "binomial_logit", Domain::NonNegativeInt,
        {{"population size parameter", Domain::NonNegativeInt}, {"probability parameter", A}},
        [](Math& m, const Value& n, const Params& p) -> Terms {
          NodeP k = m.r(n), N = m.r(p[0]), alpha = m.r(p[1]);
          return {m.total(lchoose(m, N, k)), m.neg(m.total(m.mul(k, m.log1p_exp(m.neg(alpha))))),
                  m.neg(m.total(m.mul(m.sub(N, k), m.log1p_exp(alpha))))};
        });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.mul(p[0], g.unary(Op::InvLogit, p[1])); };
    d.sample = [](RandomEngine& e, const double* p) {
      return static_cast<double>(std::binomial_distribution<int64_t>(static_cast<int64_t>(p[0]), inv_logit(p[1]))(e));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = discrete("poisson", Domain::NonNegativeInt, {{"rate parameter", Domain::NonNegative}},
                                   [](Math& m, const Value& n, const Params& p) -> Terms {
                                     NodeP k = m.r(n), lambda = m.r(p[0]);
                                     NodeP klog = m.g.select(m.g.binary(Op::Eq, k, m.c(0)), m.c(0), m.mul(k, m.log(lambda)));
                                     return {m.neg(m.total(m.lgamma(m.add(k, m.c(1))))), m.total(klog), m.neg(m.total(lambda))};
                                   });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[0]; };
    d.sample = [](RandomEngine& e, const double* p) { return static_cast<double>(poisson_draw(e, p[0])); };
    d.sample_limit = {0, "rate parameter", kMaxPoissonRate};
    // P(Y <= n) = Q(n + 1, lambda) and P(Y > n) = P(n + 1, lambda); below 0, -inf and 0
    // (the shape is kept at 1 or more there, so that the branch not taken is finite).
    auto shape = [](ir::Graph& g, NodeP n) { return g.binary(Op::Max, g.add(g.unary(Op::Floor, n), g.constant(1)), g.constant(1)); };
    d.log_cdf = [shape](ir::Graph& g, NodeP n, const Nodes& p) {
      return g.select(g.binary(Op::Lt, n, g.constant(0)), g.constant(-INFINITY), g.binary(Op::GammaLccdf, p[0], shape(g, n)));
    };
    d.log_ccdf = [shape](ir::Graph& g, NodeP n, const Nodes& p) {
      return g.select(g.binary(Op::Lt, n, g.constant(0)), g.constant(0), g.binary(Op::GammaLcdf, p[0], shape(g, n)));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = discrete("poisson_log", Domain::NonNegativeInt, {{"log rate parameter", A}},
                                   [](Math& m, const Value& n, const Params& p) -> Terms {
                                     NodeP k = m.r(n), alpha = m.r(p[0]);
                                     return {m.neg(m.total(m.lgamma(m.add(k, m.c(1))))), m.total(m.mul(k, alpha)),
                                             m.neg(m.total(m.exp(alpha)))};
                                   });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.unary(Op::Exp, p[0]); };
    d.sample = [](RandomEngine& e, const double* p) { return static_cast<double>(poisson_draw(e, std::exp(p[0]))); };
    d.sample_limit = {0, "log rate parameter", std::log(kMaxPoissonRate)};
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("gumbel", A, {{"location parameter", F}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP beta = m.r(p[1]);
                                       NodeP z = m.div(m.sub(m.r(y), m.r(p[0])), beta);
                                       return {m.neg(m.total(m.log(beta))), m.neg(m.total(z)),
                                               m.neg(m.total(m.exp(m.neg(z))))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.add(p[0], g.mul(p[1], g.constant(0.57721566490153286))); };
    d.sample = [](RandomEngine& e, const double* p) { return p[0] + p[1] * standard_gumbel(e); };
    // P(Y <= y) = exp(-exp(-z)).
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.neg(g.unary(Op::Exp, g.neg(g.div(g.sub(y, p[0]), p[1]))));
    };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return log1m_exp(g, g.neg(g.unary(Op::Exp, g.neg(g.div(g.sub(y, p[0]), p[1])))));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("double_exponential", A, {{"location parameter", F}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP sigma = m.r(p[1]);
                                       NodeP distance = m.g.unary(Op::Abs, m.sub(m.r(y), m.r(p[0])));
                                       return {m.constant_term(-M_LN2), m.neg(m.total(m.log(sigma))),
                                               m.neg(m.total(m.div(distance, sigma)))};
                                     });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[0]; };
    d.sample = [](RandomEngine& e, const double* p) {
      double x = std::exponential_distribution<double>(1)(e);
      return std::bernoulli_distribution(0.5)(e) ? p[0] + p[1] * x : p[0] - p[1] * x;
    };
    // P(Y <= y) = exp(z) / 2 below mu and 1 - exp(-z) / 2 above, and P(Y > y) is the
    // same at -z. Each branch sees only its own side of z, so the one not taken stays finite.
    auto log_cdf_of_z = [](ir::Graph& g, NodeP z) {
      NodeP below = g.binary(Op::Lt, z, g.constant(0));
      NodeP zl = g.binary(Op::Min, z, g.constant(0)), zu = g.binary(Op::Max, z, g.constant(0));
      return g.select(below, g.add(g.constant(-M_LN2), zl),
                      g.unary(Op::Log1p, g.mul(g.constant(-0.5), g.unary(Op::Exp, g.neg(zu)))));
    };
    d.log_cdf = [log_cdf_of_z](ir::Graph& g, NodeP y, const Nodes& p) {
      return log_cdf_of_z(g, g.div(g.sub(y, p[0]), p[1]));
    };
    d.log_ccdf = [log_cdf_of_z](ir::Graph& g, NodeP y, const Nodes& p) {
      return log_cdf_of_z(g, g.div(g.sub(p[0], y), p[1]));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("logistic", A, {{"location parameter", F}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP sigma = m.r(p[1]);
                                       NodeP z = m.div(m.sub(m.r(y), m.r(p[0])), sigma);
                                       // -z - log sigma - 2 log(1 + exp(-z))
                                       return {m.neg(m.total(m.log(sigma))),
                                               m.neg(m.total(m.add(z, m.mul(m.c(2), m.log1p_exp(m.neg(z))))))};
                                     });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[0]; };
    d.sample = [](RandomEngine& e, const double* p) {
      double u = 0;
      while (u == 0) u = std::uniform_real_distribution<double>(0, 1)(e);
      return p[0] + p[1] * std::log(u / (1 - u));
    };
    // P(Y <= y) = inv_logit(z).
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.neg(g.unary(Op::Log1pExp, g.neg(g.div(g.sub(y, p[0]), p[1]))));
    };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return g.neg(g.unary(Op::Log1pExp, g.div(g.sub(y, p[0]), p[1])));
    };
    out.push_back(d);
  }
  {
    DistributionEntry d = continuous("weibull", Domain::NonNegative, {{"shape parameter", P}, {"scale parameter", P}},
                                     [](Math& m, const Value& y, const Params& p) -> Terms {
                                       NodeP alpha = m.r(p[0]), sigma = m.r(p[1]), x = m.r(y);
                                       return {m.total(m.log(alpha)), m.total(m.mul(m.sub(alpha, m.c(1)), m.log(x))),
                                               m.neg(m.total(m.mul(alpha, m.log(sigma)))),
                                               m.neg(m.total(m.g.binary(Op::Pow, m.div(x, sigma), alpha)))};
                                     });
    d.mean = [](ir::Graph& g, const Nodes& p) {  // sigma Gamma(1 + 1 / alpha)
      return g.mul(p[1], g.unary(Op::Exp, g.unary(Op::Lgamma, g.add(g.constant(1), g.div(g.constant(1), p[0])))));
    };
    d.sample = [](RandomEngine& e, const double* p) { return std::weibull_distribution<double>(p[0], p[1])(e); };
    // P(Y <= y) = 1 - exp(-(y / sigma)^alpha).
    d.log_cdf = [](ir::Graph& g, NodeP y, const Nodes& p) {
      return log1m_exp(g, g.neg(g.binary(Op::Pow, g.div(y, p[1]), p[0])));
    };
    d.log_ccdf = [](ir::Graph& g, NodeP y, const Nodes& p) { return g.neg(g.binary(Op::Pow, g.div(y, p[1]), p[0])); };
    out.push_back(d);
  }
  // neg_binomial_2(mu, phi): mean mu, variance mu + mu^2 / phi; its terms as Stan
  // groups them (the binomial coefficient depends on phi, n log mu on mu).
  {
    DistributionEntry d = discrete(
        "neg_binomial_2", Domain::NonNegativeInt, {{"location parameter", P}, {"precision parameter", P}},
        [](Math& m, const Value& n, const Params& p) -> Terms {
          NodeP k = m.r(n), mu = m.r(p[0]), phi = m.r(p[1]);
          NodeP k_log_mu = m.g.select(m.g.binary(Op::Eq, k, m.c(0)), m.c(0), m.mul(k, m.log(mu)));
          return {m.total(lchoose(m, m.sub(m.add(k, phi), m.c(1)), k)), m.total(k_log_mu),
                  m.neg(m.total(m.add(m.mul(phi, m.log1p(m.div(mu, phi))), m.mul(k, m.log(m.add(mu, phi))))))};
        });
    d.mean = [](ir::Graph&, const Nodes& p) { return p[0]; };
    d.sample = [](RandomEngine& e, const double* p) {
      return static_cast<double>(poisson_draw(e, gamma_draw(e, p[1], p[1] / p[0])));
    };
    d.sample_limit = {0, "location parameter", kMaxPoissonRate};
    out.push_back(d);
  }
  {
    DistributionEntry d = discrete(
        "neg_binomial_2_log", Domain::NonNegativeInt, {{"log location parameter", F}, {"precision parameter", P}},
        [](Math& m, const Value& n, const Params& p) -> Terms {
          NodeP k = m.r(n), eta = m.r(p[0]), phi = m.r(p[1]);
          NodeP log_phi = m.log(phi);
          NodeP softplus = m.log1p_exp(m.sub(eta, log_phi));  // log(exp(eta) + phi) - log(phi)
          return {m.total(lchoose(m, m.sub(m.add(k, phi), m.c(1)), k)), m.total(m.mul(k, eta)),
                  m.neg(m.total(m.add(m.mul(phi, softplus), m.mul(k, m.add(log_phi, softplus)))))};
        });
    d.mean = [](ir::Graph& g, const Nodes& p) { return g.unary(Op::Exp, p[0]); };
    d.sample = [](RandomEngine& e, const double* p) {
      return static_cast<double>(poisson_draw(e, gamma_draw(e, p[1], p[1] / std::exp(p[0]))));
    };
    d.sample_limit = {0, "log location parameter", std::log(kMaxPoissonRate)};
    out.push_back(d);
  }
  out.push_back(dirichlet());
  out.push_back(glm("bernoulli_logit_glm", "bernoulli_logit", true, false));
  out.push_back(glm("poisson_log_glm", "poisson_log", true, false));
  out.push_back(glm("normal_id_glm", "normal", false, true));
  out.push_back(categorical("categorical_logit", true));
  out.push_back(categorical("categorical", false));
  out.push_back(multinomial("multinomial", false));
  out.push_back(multinomial("multinomial_logit", true));
}

}  // namespace latent::stdlib
