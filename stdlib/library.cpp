// The registry of library entries, the type rules the checker asks for, and the
// shared part of every density: argument broadcasting, Stan's argument checks
// and the dropping of constant terms for `~`.
#include "stdlib/library.hpp"

#include "stdlib/signatures.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace latent::stdlib {

namespace {

void cdf_functions(const DistributionEntry& d, std::vector<FunctionEntry>& out);

struct Registry {
  std::map<std::string, FunctionEntry> functions;
  std::map<std::string, DistributionEntry> distributions;
  Registry() {
    std::vector<FunctionEntry> fs;
    register_functions(fs);
    register_container_functions(fs);
    register_gaussian_process_functions(fs);
    register_linear_algebra_functions(fs);
    std::vector<DistributionEntry> ds;
    register_distributions(ds);
    register_multivariate_distributions(ds);
    for (auto& d : ds)
      if (d.log_cdf) cdf_functions(d, fs);
    for (auto& f : fs) functions.emplace(f.name, std::move(f));
    for (auto& d : ds) {
      // Registration order is fixed for a build: generated code names samplers by id.
      if (d.sample) d.sampler_id = register_sampler(d.sample);
      distributions.emplace(d.name, std::move(d));
    }
  }
};

const Registry& registry() {
  static const Registry r;
  return r;
}

// Stan's "reals": a real/int scalar or a one-dimensional container of them;
// latent also takes a matrix, elementwise (a batch of data points by rows).
bool is_reals(const Type& t) {
  if (t.is_error()) return true;
  if (t.is_scalar()) return true;
  if (t.array_dims == 0) return t.base == Base::Vector || t.base == Base::RowVector || t.base == Base::Matrix;
  return t.array_dims == 1 && (t.base == Base::Real || t.base == Base::Int);
}

bool is_ints(const Type& t) {
  if (t.is_error()) return true;
  return t.base == Base::Int && t.array_dims <= 1;
}

bool domain_is_int(Domain d) { return d == Domain::Int || d == Domain::NonNegativeInt || d == Domain::Binary; }

std::string density_signature(const DistributionEntry& d) {
  std::string s = d.name + (d.discrete ? "_lpmf(" : "_lpdf(") + (domain_is_int(d.variate) ? "ints" : "reals");
  for (size_t i = 0; i < d.params.size(); ++i)
    s += std::string(i == 0 ? " | " : ", ") + (domain_is_int(d.params[i].second) ? "ints" : "reals");
  return s + ")";
}

bool fits(Domain dom, const Type& t) { return domain_is_int(dom) ? is_ints(t) : is_reals(t); }

std::string rng_signature(const DistributionEntry& d) {
  std::string s = d.name + "_rng(";
  for (size_t i = 0; i < d.params.size(); ++i) s += std::string(i ? ", " : "") + (domain_is_int(d.params[i].second) ? "ints" : "reals");
  return s + ")";
}

// `dist_rng(args)`: reals or ints per the parameters' domains; an array when any is a container.
// A non-elementwise distribution draws one outcome (its signature with a scalar variate).
Type rng_type(const DistributionEntry& d, const std::vector<Type>& args, std::string* why) {
  if (!d.has_rng) {
    *why = "Stan has no " + d.name + "_rng";
    return Type::error();
  }
  if (d.rng_signature) return d.rng_signature(args, why);
  if (!d.elementwise) {  // one outcome: a scalar (categorical) or a vector (dirichlet)
    Type outcome = d.discrete ? Type::int_() : Type::real();
    if (d.signature(outcome, args, why)) return outcome;
    std::string scalar_why;
    if (!d.discrete && d.signature(Type::vector(), args, &scalar_why)) return Type::vector();
    return Type::error();
  }
  bool ok = args.size() == d.params.size(), container = false;
  for (size_t i = 0; ok && i < args.size(); ++i) {
    ok = fits(d.params[i].second, args[i]);
    container |= !args[i].is_scalar() && !args[i].is_error();
  }
  if (!ok) {
    std::string given;
    for (size_t i = 0; i < args.size(); ++i) given += (i ? ", " : "") + args[i].str();
    *why = "no matching signature for " + d.name + "_rng(" + given + "); expected " + rng_signature(d);
    return Type::error();
  }
  return Type{d.discrete ? Base::Int : Base::Real, container ? 1 : 0};
}

bool density_args_ok(const DistributionEntry& d, const Type& variate, const std::vector<Type>& params,
                     std::string* why) {
  if (d.signature) return d.signature(variate, params, why);
  // Bernoulli outcomes may also be intensities in [0, 1] (cross-entropy with soft targets).
  bool soft_binary = d.variate == Domain::Binary && is_reals(variate);
  bool ok = params.size() == d.params.size() && (fits(d.variate, variate) || soft_binary);
  for (size_t i = 0; ok && i < params.size(); ++i) ok = fits(d.params[i].second, params[i]);
  if (!ok && why) {
    std::string given = variate.str();
    for (size_t i = 0; i < params.size(); ++i) given += (i == 0 ? " | " : ", ") + params[i].str();
    *why = "no matching signature for " + d.name + " with arguments (" + given + "); expected " + density_signature(d);
  }
  return ok;
}

}  // namespace

const FunctionEntry* find_function(const std::string& name) {
  auto& fs = registry().functions;
  auto it = fs.find(name);
  return it == fs.end() ? nullptr : &it->second;
}

bool reads_padded(const std::string& reduction, const std::string& slice) {
  const FunctionEntry* r = find_function(reduction);
  const FunctionEntry* s = find_function(slice);
  return r && r->reduce_padded && s && s->padded;
}

bool reads_padded_range(const std::string& reduction) {
  const FunctionEntry* r = find_function(reduction);
  return r && r->reduce_padded;
}

std::vector<std::string> distribution_names() {
  std::vector<std::string> names;
  for (auto& [name, d] : registry().distributions) names.push_back(name);
  return names;
}

const DistributionEntry* find_distribution(const std::string& name) {
  auto& ds = registry().distributions;
  auto it = ds.find(name);
  return it == ds.end() ? nullptr : &it->second;
}

std::string reparameterized_distribution_names() {
  std::string names;
  for (auto& [name, d] : registry().distributions)
    if (d.reparameterization) names += (names.empty() ? "" : ", ") + name;
  return names;
}

ir::NodeP kl_divergence(ir::Graph& g, const DistributionEntry& q, const std::vector<ir::NodeP>& q_params,
                        const DistributionEntry& p, const std::vector<ir::NodeP>& p_params) {
  if (!q.gaussian || !p.gaussian) return nullptr;
  // KL(N(m1, s1) || N(m2, s2)) = log s2 - log s1 + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2
  auto [m1, s1] = q.gaussian(g, q_params);
  auto [m2, s2] = p.gaussian(g, p_params);
  ir::NodeP d = g.sub(m1, m2);
  ir::NodeP ratio = g.div(g.add(g.mul(s1, s1), g.mul(d, d)), g.mul(g.constant(2), g.mul(s2, s2)));
  ir::NodeP elementwise =
      g.sub(g.add(g.sub(g.unary(ir::Op::Log, s2), g.unary(ir::Op::Log, s1)), ratio), g.constant(0.5));
  return g.sum(elementwise);
}

bool split_rng_suffix(const std::string& name, std::string* base) {
  const std::string sfx = "_rng";
  if (name.size() <= sfx.size() || name.compare(name.size() - sfx.size(), sfx.size(), sfx) != 0) return false;
  *base = name.substr(0, name.size() - sfx.size());
  return true;
}

bool split_density_suffix(const std::string& name, std::string* base, std::string* suffix) {
  for (const char* s : {"_lpdf", "_lupdf", "_lpmf", "_lupmf"}) {
    std::string sfx(s);
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      *base = name.substr(0, name.size() - sfx.size());
      *suffix = sfx;
      return true;
    }
  }
  return false;
}

// ---- type rules for the checker ----------------------------------------------------------

Type call_type(const std::string& name, const std::vector<Type>& args, std::string* why) {
  if (const FunctionEntry* f = find_function(name)) return f->type(args, why);
  std::string base, suffix;
  if (split_density_suffix(name, &base, &suffix)) {
    const DistributionEntry* d = find_distribution(base);
    if (!d) {
      *why = "unknown distribution '" + base + "' in '" + name + "'";
      return Type::error();
    }
    bool mass = suffix == "_lpmf" || suffix == "_lupmf";
    if (mass != d->discrete) {
      *why = "'" + name + "': " + base + " is a " + (d->discrete ? "probability mass function: use " + base + "_lpmf"
                                                                  : "density: use " + base + "_lpdf");
      return Type::error();
    }
    if (args.empty()) {
      *why = "'" + name + "' needs a variate: " + density_signature(*d);
      return Type::error();
    }
    std::vector<Type> params(args.begin() + 1, args.end());
    if (!density_args_ok(*d, args[0], params, why)) return Type::error();
    return Type::real();
  }
  if (split_rng_suffix(name, &base)) {
    const DistributionEntry* d = find_distribution(base);
    if (d && (d->sample || d->draw)) return rng_type(*d, args, why);
  }
  *why = "unknown function '" + name + "'";
  return Type::error();
}

bool tilde_ok(const std::string& dist, const Type& variate, const std::vector<Type>& args, std::string* why) {
  const DistributionEntry* d = find_distribution(dist);
  if (!d) {
    *why = "unknown distribution '" + dist + "'";
    return false;
  }
  return density_args_ok(*d, variate, args, why);
}

bool is_known(const std::string& name) {
  if (find_function(name)) return true;
  std::string base, suffix;
  if (split_rng_suffix(name, &base)) {
    const DistributionEntry* d = find_distribution(base);
    return d && (d->sample || d->draw);
  }
  return split_density_suffix(name, &base, &suffix) && find_distribution(base);
}

// ---- lowering helpers --------------------------------------------------------------------

void CallContext::error(const std::string& message) const {
  throw UserError(format_diagnostic(file_, {loc_, message}));
}

std::string CallContext::location() const {
  return file_.path + ":" + std::to_string(loc_.line) + ":" + std::to_string(loc_.column);
}

void CallContext::check(ir::NodeP violated, const std::string& message, ir::NodeP value,
                        const std::string& value_name) {
  if (violated->is_const(0)) return;
  if (violated->is_const()) error(message + " (" + value_name + " is " + [&] {
                                    std::ostringstream s;
                                    s << value->value;
                                    return s.str();
                                  }() + ")");
  int id = g.add_message({message, location(), {value_name}});
  checks.push_back(g.check(violated, id, {value}));
}

namespace {

// Checks one argument against its domain; for containers reports the first offending value.
void check_domain(CallContext& ctx, const Value& v, Domain domain, const std::string& what) {
  ir::Graph& g = ctx.g;
  ir::NodeP x = v.node;
  ir::NodeP bad = nullptr;
  std::string must;
  auto nan = [&](ir::NodeP e) { return g.binary(ir::Op::Ne, e, e); };
  auto inf = [&](ir::NodeP e) { return g.binary(ir::Op::Eq, g.unary(ir::Op::Abs, e), g.constant(INFINITY)); };
  switch (domain) {
    case Domain::Any: case Domain::Int: return;
    case Domain::Finite: bad = g.binary(ir::Op::Or, nan(x), inf(x)); must = "must be finite"; break;
    case Domain::Positive: bad = g.unary(ir::Op::Not, g.binary(ir::Op::Gt, x, g.constant(0))); must = "must be positive"; break;
    case Domain::PositiveFinite:
      bad = g.binary(ir::Op::Or, g.unary(ir::Op::Not, g.binary(ir::Op::Gt, x, g.constant(0))), inf(x));
      must = "must be positive and finite";
      break;
    case Domain::NonNegative: case Domain::NonNegativeInt:
      bad = g.unary(ir::Op::Not, g.binary(ir::Op::Ge, x, g.constant(0)));
      must = "must be non-negative";
      break;
    case Domain::Probability:
      bad = g.unary(ir::Op::Not, g.binary(ir::Op::And, g.binary(ir::Op::Ge, x, g.constant(0)),
                                          g.binary(ir::Op::Le, x, g.constant(1))));
      must = "must be in [0, 1]";
      break;
    case Domain::Binary:
      if (v.type.base != Base::Int) {
        bad = g.unary(ir::Op::Not, g.binary(ir::Op::And, g.binary(ir::Op::Ge, x, g.constant(0)),
                                            g.binary(ir::Op::Le, x, g.constant(1))));
        must = "must be in [0, 1]";
        break;
      }
      bad = g.binary(ir::Op::And, g.binary(ir::Op::Ne, x, g.int_constant(0)), g.binary(ir::Op::Ne, x, g.int_constant(1)));
      must = "must be 0 or 1";
      break;
  }
  std::string message = ctx.name() + ": " + what + " " + must;
  if (x->is_scalar()) return ctx.check(bad, message, x, what);
  auto [any, worst] = g.any_violation(bad, x);
  ctx.check(any, message, worst, what);
}

}  // namespace

namespace {

// The broadcast size of a call: every container argument must have as many
// elements (-1 when all are scalars).
int64_t broadcast_size(CallContext& ctx, const std::vector<const Value*>& all,
                       const std::function<std::string(size_t)>& name_of) {
  int64_t size = -1;
  const Value* sized = nullptr;
  for (size_t i = 0; i < all.size(); ++i) {
    const Value* v = all[i];
    if (v->node->is_scalar()) continue;
    if (sized && v->node->dims != sized->node->dims)
      ctx.error(ctx.name() + ": size mismatch: " + name_of(i) + " has " + std::to_string(v->node->size()) +
                " elements, but an earlier argument has " + std::to_string(size) +
                (v->node->size() == size ? " (in a different shape)" : ""));
    sized = v;
    size = v->node->size();
  }
  return size;
}

}  // namespace

namespace {

// name_lcdf(y | params), name_lccdf(y | params) and name_cdf(y | params): the sum of
// the elementwise log (complementary) CDFs over the broadcast size, and for _cdf the
// product of the CDFs, exp of that sum.
enum class CdfKind { Lcdf, Lccdf, Cdf };

Value lower_cdf(CallContext& ctx, const DistributionEntry& d, const std::vector<Value>& args, CdfKind kind) {
  ir::Graph& g = ctx.g;
  const Value& y = args[0];
  std::vector<Value> params(args.begin() + 1, args.end());
  std::vector<const Value*> all;
  for (auto& a : args) all.push_back(&a);
  int64_t size = broadcast_size(ctx, all, [&](size_t i) { return i == 0 ? std::string("the variate") : d.params[i - 1].first; });
  for (size_t i : d.cdf_fixed_params)
    if (params[i].node->reads_unknowns)
      ctx.error(ctx.name() + ": its derivative with respect to the " + d.params[i].first +
                " is not implemented, so that argument must not depend on parameters (only on data)");
  ir::NodeP x = g.cast_real(y.node);
  ir::NodeP nan = g.binary(ir::Op::Ne, x, x);
  if (x->is_scalar()) {
    ctx.check(nan, ctx.name() + ": Random variable must not be NaN", x, "random variable");
  } else {
    auto [any, worst] = g.any_violation(nan, x);
    ctx.check(any, ctx.name() + ": Random variable must not be NaN", worst, "random variable");
  }
  check_parameters(ctx, d, params);
  std::vector<ir::NodeP> p;
  for (auto& v : params) p.push_back(g.cast_real(v.node));
  ir::NodeP per_element = kind == CdfKind::Lccdf ? d.log_ccdf(g, x, p) : d.log_cdf(g, x, p);
  ir::NodeP total = per_element->is_scalar() ? g.mul(per_element, g.constant(static_cast<double>(std::max<int64_t>(size, 1))))
                                             : g.sum(per_element);
  return {kind == CdfKind::Cdf ? g.unary(ir::Op::Exp, total) : total, Type::real()};
}

void cdf_functions(const DistributionEntry& d, std::vector<FunctionEntry>& out) {
  for (auto [suffix, which] : {std::pair{"_lcdf", CdfKind::Lcdf}, std::pair{"_lccdf", CdfKind::Lccdf},
                               std::pair{"_cdf", CdfKind::Cdf}}) {
    CdfKind kind = which;  // a plain variable: clang 14 cannot capture a structured binding
    std::string name = d.name + suffix;
    std::string dist = d.name;
    out.push_back({name,
                   [name, dist](const std::vector<Type>& args, std::string* why) -> Type {
                     const DistributionEntry& self = *find_distribution(dist);
                     std::vector<Type> params(args.begin() + (args.empty() ? 0 : 1), args.end());
                     if (!args.empty() && density_args_ok(self, args[0], params, nullptr)) return Type::real();
                     std::string given;
                     for (size_t i = 0; i < args.size(); ++i) given += (i == 0 ? "" : i == 1 ? " | " : ", ") + args[i].str();
                     std::string expected = density_signature(self);
                     expected = name + expected.substr(expected.find('('));
                     *why = "no matching signature for " + name + "(" + given + "); expected " + expected;
                     return Type::error();
                   },
                   [dist, kind](CallContext& ctx, const std::vector<Value>& args) -> Value {
                     return lower_cdf(ctx, *find_distribution(dist), args, kind);
                   }});
  }
}

}  // namespace

Value lower_log_cdf(CallContext& ctx, const DistributionEntry& dist, const std::vector<Value>& args, bool complementary) {
  return lower_cdf(ctx, dist, args, complementary ? CdfKind::Lccdf : CdfKind::Lcdf);
}

Value lower_rng(CallContext& ctx, const DistributionEntry& dist, const std::vector<Value>& params) {
  ir::Graph& g = ctx.g;
  if (!dist.elementwise) {
    std::vector<ir::NodeP> p;
    for (auto& v : params) p.push_back(g.cast_real(v.node));
    ir::NodeP draw = dist.draw(ctx, p, {});  // its draw checks its arguments
    Type t = dist.discrete ? Type::int_() : draw->dims.empty() ? Type::real() : Type::vector();
    if (draw->dims.size() == 2) t = Type::matrix();
    return {draw, t};
  }
  std::vector<const Value*> all;
  for (auto& p : params) all.push_back(&p);
  int64_t size = broadcast_size(ctx, all, [&](size_t i) { return dist.params[i].first; });
  bool container = false;
  for (auto& p : params) container |= !p.node->is_scalar();
  check_parameters(ctx, dist, params);
  const DistributionEntry::Limit& limit = dist.sample_limit;
  if (limit.param >= 0) {
    ir::NodeP x = g.cast_real(params[static_cast<size_t>(limit.param)].node);
    ir::NodeP too_large = g.unary(ir::Op::Not, g.binary(ir::Op::Lt, x, g.constant(limit.below)));
    std::ostringstream below;
    below << limit.below;
    std::string message = ctx.name() + ": " + limit.name + " must be less than " + below.str();
    if (x->is_scalar()) {
      ctx.check(too_large, message, x, limit.name);
    } else {
      auto [any, worst] = g.any_violation(too_large, x);
      ctx.check(any, message, worst, limit.name);
    }
  }
  std::vector<int64_t> dims = container ? std::vector<int64_t>{size} : std::vector<int64_t>{};
  std::vector<ir::NodeP> flat;
  for (auto& p : params) {
    ir::NodeP n = g.cast_real(p.node);
    flat.push_back(n->is_scalar() ? n : g.reshape(n, dims));
  }
  ir::DType dtype = dist.discrete ? ir::DType::Int : ir::DType::Real;
  ir::NodeP draw = g.random(dist.sampler_id, ctx.draw_site, dtype, dims, flat, ctx.loop_vars);
  return {draw, Type{dist.discrete ? Base::Int : Base::Real, container ? 1 : 0}};
}

void check_parameters(CallContext& ctx, const DistributionEntry& dist, const std::vector<Value>& params) {
  for (size_t i = 0; i < params.size(); ++i) check_domain(ctx, params[i], dist.params[i].second, dist.params[i].first);
}

Value lower_density(CallContext& ctx, const DistributionEntry& dist, const Value& variate,
                    const std::vector<Value>& params) {
  if (!dist.elementwise) {  // its terms check shapes and domains
    std::vector<ir::NodeP> kept;
    for (ir::NodeP t : dist.terms(ctx, variate, params, 1))
      if (!ctx.propto || t->reads_unknowns) kept.push_back(t);
    return {kept.empty() ? ctx.g.constant(0) : ctx.g.add_all(kept), Type::real()};
  }
  std::vector<const Value*> all{&variate};
  for (auto& p : params) all.push_back(&p);
  int64_t size = broadcast_size(ctx, all, [&](size_t i) { return i == 0 ? std::string("the variate") : dist.params[i - 1].first; });
  check_domain(ctx, variate, dist.variate, dist.discrete ? "outcome" : "random variable");
  check_parameters(ctx, dist, params);
  std::vector<ir::NodeP> terms = dist.terms(ctx, variate, params, size < 0 ? 1 : size);
  std::vector<ir::NodeP> kept;
  for (ir::NodeP t : terms)
    if (!ctx.propto || t->reads_unknowns) kept.push_back(t);
  return {ctx.g.add_all(kept), Type::real()};
}

}  // namespace latent::stdlib
