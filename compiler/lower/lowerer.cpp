#include "compiler/lower/lowerer.hpp"

#include "kernels/eval_context.hpp"
#include "compiler/lower/loop_plan.hpp"

#include <cmath>
#include <limits>
#include <sstream>

namespace latent {

using ir::NodeP;
using ir::Op;

namespace {

constexpr int kMaxUnrolledIterations = 200000;

std::string dims_text(const Type& t, NodeP n) {
  std::string s = t.str();
  auto d = Lowerer::stan_dims_of(t, n->dims);
  if (d.empty()) return s;
  s += "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// IR axis of each remaining Stan dimension of a value of type t and IR rank r.
std::vector<int> stan_axes(const Type& t, size_t rank) {
  std::vector<int> axes;
  for (int p = 0; p < t.array_dims; ++p) axes.push_back(static_cast<int>(rank) - 1 - p);
  for (size_t e = 0; e + static_cast<size_t>(t.array_dims) < rank; ++e) axes.push_back(static_cast<int>(e));
  return axes;
}

}  // namespace

// ---- dims ------------------------------------------------------------------------------

std::vector<int64_t> Lowerer::ir_dims_of(const Type& t, const std::vector<int64_t>& stan_dims) {
  size_t k = static_cast<size_t>(t.array_dims);
  std::vector<int64_t> ir(stan_dims.begin() + static_cast<long>(std::min(k, stan_dims.size())), stan_dims.end());
  for (size_t i = std::min(k, stan_dims.size()); i-- > 0;) ir.push_back(stan_dims[i]);
  return ir;
}

std::vector<int64_t> Lowerer::stan_dims_of(const Type& t, const std::vector<int64_t>& ir_dims) {
  size_t k = static_cast<size_t>(t.array_dims);
  size_t elem = ir_dims.size() >= k ? ir_dims.size() - k : 0;
  std::vector<int64_t> stan;
  for (size_t i = ir_dims.size(); i-- > elem;) stan.push_back(ir_dims[i]);
  for (size_t i = 0; i < elem; ++i) stan.push_back(ir_dims[i]);
  return stan;
}

// ---- diagnostics ------------------------------------------------------------------------

void Lowerer::error(SourceLoc loc, const std::string& message) const {
  throw UserError(format_diagnostic(file_, {loc, message}));
}

std::string Lowerer::location(SourceLoc loc) const {
  return file_.path + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column);
}

void Lowerer::add_term(SourceLoc loc, NodeP value) {
  if (path_) {
    // Under a run-time condition: checks and prints fire only on their path;
    // other terms count only there (both sides of a select are evaluated).
    if (value->op == Op::Check || value->op == Op::Print) {
      std::vector<NodeP> values(value->args.begin() + 1, value->args.end());
      NodeP when = g_.binary(Op::And, path_, value->args[0]);
      int id = static_cast<int>(value->b);
      value = value->op == Op::Check ? g_.check(when, id, values) : g_.print(when, id, values);
    } else {
      value = g_.select(path_, value, g_.constant(0));
    }
  }
  if (value->is_const(0)) return;
  std::string stmt = file_.line(loc.line);
  size_t b = stmt.find_first_not_of(" \t");
  stmt = b == std::string::npos ? "" : stmt.substr(b);
  keep_term({location(loc), stmt, value, false, std::nullopt});
}

void Lowerer::keep_term(Term t) {
  NodeP v = t.value;
  // Checks on data alone run once when data is bound, not at every evaluation.
  if (!v->reads_unknowns && v->free_loops.empty() && v->is_effect && current_terms_ == &terms_)
    data_checks_.push_back(v);
  else
    current_terms_->push_back(std::move(t));
}

// Runs one iteration of an unrolled loop with the loop variable bound to `value`;
// false when the body ended the loop with break.
bool Lowerer::unrolled_iteration(const ast::Stmt& s, Value value) {
  if (++unrolled_iterations_ > kMaxUnrolledIterations)
    error(s.loc, "this loop must be evaluated iteration by iteration and runs too long (limit " +
                     std::to_string(kMaxUnrolledIterations) + " iterations in all)");
  push_scope();
  define(s.loop_var, value, true, "loop");
  statement(*s.body);
  pop_scope();
  continue_ = false;
  if (!break_) return true;
  break_ = false;
  return false;
}

void Lowerer::add_check(SourceLoc loc, NodeP violated, const std::string& message, NodeP value,
                        const std::string& value_name) {
  if (violated->is_const(0)) return;
  if (violated->is_const() && !path_) {
    std::ostringstream v;
    v << (value->is_const() ? value->value : NAN);
    error(loc, message + " (" + value_name + " is " + v.str() + ")");
  }
  int id = g_.add_message({message, location(loc), {value_name}});
  add_term(loc, g_.check(violated, id, {value}));
}

// ---- variables ----------------------------------------------------------------------------

void Lowerer::define(const std::string& name, Value v, bool read_only, const std::string& block) {
  scopes_.back().vars[name] = Var{v, read_only, block};
}

Lowerer::Var* Lowerer::find(const std::string& name) {
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto f = it->vars.find(name);
    if (f != it->vars.end()) return &f->second;
  }
  return nullptr;
}

int64_t Lowerer::known_int(const ast::Expr& e, const std::string& what) {
  Value v = expr(e);
  if (!v.node->is_const() || !v.node->is_scalar())
    error(e.loc, what + " must be known when the data is read (it may not depend on parameters)");
  double x = v.node->value;
  if (x != std::floor(x)) error(e.loc, what + " must be an integer");
  return static_cast<int64_t>(x);
}

void Lowerer::declared_dims(const ast::VarDecl& d, std::vector<int64_t>* stan_dims, std::vector<int64_t>* ir_dims) {
  stan_dims->clear();
  for (auto& e : d.array_sizes) {
    int64_t n = known_int(*e, "the array size of '" + d.name + "'");
    if (n < 0) error(e->loc, "the array size of '" + d.name + "' is negative (" + std::to_string(n) + ")");
    stan_dims->push_back(n);
  }
  for (auto& e : d.sizes) {
    int64_t n = known_int(*e, "the size of '" + d.name + "'");
    if (n < 0) error(e->loc, "the size of '" + d.name + "' is negative (" + std::to_string(n) + ")");
    stan_dims->push_back(n);
  }
  // cholesky_factor_corr[K] and simplex[K] give one size.
  if (d.base == ast::BaseType::CholeskyFactorCorr) stan_dims->push_back(stan_dims->back());
  *ir_dims = ir_dims_of(d.type, *stan_dims);
}

ConstraintSpec Lowerer::constraint(const ast::VarDecl& d) {
  ConstraintSpec c;
  using Kind = ConstraintSpec::Kind;
  if (d.base == ast::BaseType::Simplex) {
    c.kind = Kind::Simplex;
    return c;
  }
  if (d.base == ast::BaseType::CholeskyFactorCorr)
    error(d.loc, "cholesky_factor_corr parameters are not supported yet");
  const ast::Constraint& k = d.constraint;
  std::vector<int64_t> stan_dims, dims;
  declared_dims(d, &stan_dims, &dims);
  auto bound = [&](const ast::ExprPtr& e, const char* what) -> NodeP {
    Value v = expr(*e);
    if (!v.node->is_scalar() && v.node->dims != dims)
      error(e->loc, std::string("the ") + what + " bound of '" + d.name + "' has size " + dims_text(v.type, v.node) +
                        ", but '" + d.name + "' has size " + dims_text(d.type, g_.zeros(dims)));
    return g_.cast_real(v.node);
  };
  if (k.lower) c.lower = bound(k.lower, "lower");
  if (k.upper) c.upper = bound(k.upper, "upper");
  if (k.offset || k.multiplier) {
    c.kind = Kind::OffsetMultiplier;
    c.offset = k.offset ? bound(k.offset, "offset") : g_.constant(0);
    c.multiplier = k.multiplier ? bound(k.multiplier, "multiplier") : g_.constant(1);
    if (c.multiplier->is_const() && !(c.multiplier->value > 0))
      error(k.multiplier->loc, "the multiplier of '" + d.name + "' must be positive");
    return c;
  }
  // Infinite constant bounds mean no bound, as in Stan.
  if (c.lower && c.lower->is_const() && c.lower->value == -INFINITY) c.lower = nullptr;
  if (c.upper && c.upper->is_const() && c.upper->value == INFINITY) c.upper = nullptr;
  if (c.lower && c.upper) {
    c.kind = Kind::LowerUpper;
    if (c.lower->is_const() && c.upper->is_const() && !(c.lower->value < c.upper->value))
      error(d.loc, "the lower bound of '" + d.name + "' is not below its upper bound");
  } else if (c.lower) {
    c.kind = Kind::Lower;
  } else if (c.upper) {
    c.kind = Kind::Upper;
  }
  return c;
}

// ---- expressions ----------------------------------------------------------------------------

Lowerer::Value Lowerer::expr(const ast::Expr& e) {
  using K = ast::ExprKind;
  switch (e.kind) {
    case K::IntLit: return {g_.int_constant(e.int_value), Type::int_()};
    case K::RealLit: return {g_.constant(e.real_value), Type::real()};
    case K::StringLit: error(e.loc, "a string can only be printed");
    case K::Var: {
      Var* v = find(e.name);
      if (!v) error(e.loc, "variable '" + e.name + "' has no value here");
      if (redirects_.count(e.name) && !redirects_[e.name].empty())
        error(e.loc, "internal: '" + e.name + "' is defined element by element in this loop");
      return v->value;
    }
    case K::Unary: {
      Value a = expr(*e.args[0]);
      if (e.name == "-") return {g_.neg(a.node), e.type};
      if (e.name == "!") return {g_.unary(Op::Not, a.node), Type::int_()};
      return a;
    }
    case K::Binary: {
      // && and || short-circuit when the left side is known.
      if (e.name == "&&" || e.name == "||") {
        Value a = expr(*e.args[0]);
        if (a.node->is_const()) {
          bool lhs = a.node->value != 0;
          if (e.name == "&&" && !lhs) return {g_.int_constant(0), Type::int_()};
          if (e.name == "||" && lhs) return {g_.int_constant(1), Type::int_()};
        }
        Value b = expr(*e.args[1]);
        return binary(e.name, a, b, Type::int_(), e.loc);
      }
      Value a = expr(*e.args[0]);
      Value b = expr(*e.args[1]);
      return binary(e.name, a, b, e.type, e.loc);
    }
    case K::Transpose: {
      Value a = expr(*e.args[0]);
      return {g_.transpose(a.node), e.type};
    }
    case K::Ternary: {
      Value c = expr(*e.args[0]);
      if (c.node->is_const()) {
        Value r = expr(*e.args[c.node->value != 0 ? 1 : 2]);
        return convert(r, e.type, r.node->dims, e.loc, "the conditional expression");
      }
      Value a = expr(*e.args[1]);
      Value b = expr(*e.args[2]);
      if (a.node->dims != b.node->dims && !a.node->is_scalar() && !b.node->is_scalar())
        error(e.loc, "the branches of ?: have different sizes: " + dims_text(a.type, a.node) + " and " +
                         dims_text(b.type, b.node));
      return {g_.select(c.node, a.node, b.node), e.type};
    }
    case K::Call: return call(e);
    case K::Index: return index(e);
    case K::ArrayLit:
    case K::RowVectorLit: {
      std::vector<Value> elems;
      for (auto& a : e.args) elems.push_back(expr(*a));
      if (elems.empty()) error(e.loc, "empty literals are not supported");
      bool scalars = true;
      for (auto& v : elems) scalars &= v.node->is_scalar();
      std::vector<NodeP> nodes;
      if (scalars) {
        for (auto& v : elems) nodes.push_back(e.type.base == Base::Int ? v.node : g_.cast_real(v.node));
        return {g_.pack(nodes, {static_cast<int64_t>(nodes.size())}), e.type};
      }
      // Literal of containers: stack elements along a new slowest axis (arrays),
      // or rows of a matrix.
      std::vector<int64_t> inner = elems[0].node->dims;
      for (auto& v : elems) {
        if (v.node->dims != inner) error(e.loc, "the elements of this literal have different sizes");
        NodeP flat = g_.reshape(v.node, {v.node->size()});
        for (int64_t k = 0; k < v.node->size(); ++k) nodes.push_back(g_.cast_real(g_.index(flat, 0, g_.int_constant(k))));
      }
      std::vector<int64_t> dims = inner;
      dims.push_back(static_cast<int64_t>(elems.size()));
      NodeP stacked = g_.pack(nodes, dims);
      if (e.kind == K::RowVectorLit) stacked = g_.transpose(stacked);  // rows of a matrix
      return {stacked, e.type};
    }
  }
  error(e.loc, "unsupported expression");
}

Lowerer::Value Lowerer::binary(const std::string& op, const Value& a, const Value& b, Type result, SourceLoc loc) {
  NodeP x = a.node, y = b.node;
  auto same_size = [&](const char* what) {
    if (!x->is_scalar() && !y->is_scalar() && x->dims != y->dims)
      error(loc, std::string("size mismatch in ") + what + ": " + dims_text(a.type, x) + " and " + dims_text(b.type, y));
  };
  if (op == "+" || op == "-") {
    same_size(op == "+" ? "addition" : "subtraction");
    return {g_.binary(op == "+" ? Op::Add : Op::Sub, x, y), result};
  }
  if (op == ".*" || op == "./") {
    same_size(op == ".*" ? "elementwise product" : "elementwise division");
    return {g_.binary(op == ".*" ? Op::Mul : Op::Div, x, y), result};
  }
  if (op == "*") {
    if (x->is_scalar() || y->is_scalar()) return {g_.mul(x, y), result};
    Base ba = a.type.base, bb = b.type.base;
    // vector * row_vector: the outer product
    if (ba == Base::Vector && bb == Base::RowVector)
      return {g_.matmul(g_.reshape(x, {x->dims[0], 1}), g_.reshape(y, {1, y->dims[0]})), result};
    int64_t inner_a = ba == Base::Matrix ? x->dims[1] : x->dims[0];
    int64_t inner_b = y->dims[0];
    if (inner_a != inner_b)
      error(loc, "size mismatch in matrix product: " + dims_text(a.type, x) + " times " + dims_text(b.type, y));
    return {g_.matmul(x, y), result};
  }
  if (op == "/") {
    if (y->is_scalar()) {
      if (a.type.is_int() && b.type.is_int()) {
        if (y->is_const(0)) error(loc, "integer division by zero");
        return {g_.binary(Op::IntDiv, x, y), result};
      }
      return {g_.div(x, y), result};
    }
    error(loc, "matrix division is not supported yet");
  }
  if (op == "%") {
    if (y->is_const(0)) error(loc, "modulus by zero");
    return {g_.binary(Op::Mod, x, y), result};
  }
  if (op == "%/%") return {g_.binary(Op::IntDiv, x, y), result};
  if (op == "^" || op == ".^") {
    same_size("power");
    return {g_.binary(Op::Pow, x, y), result};
  }
  static const std::map<std::string, Op> compare{{"<", Op::Lt},  {"<=", Op::Le}, {">", Op::Gt},  {">=", Op::Ge},
                                                 {"==", Op::Eq}, {"!=", Op::Ne}, {"&&", Op::And}, {"||", Op::Or}};
  auto c = compare.find(op);
  if (c != compare.end()) return {g_.binary(c->second, x, y), Type::int_()};
  error(loc, "operator " + op + " is not supported yet");
}

void Lowerer::tilde(const ast::Stmt& s) {
  std::vector<Value> params;
  for (auto& a : s.args) params.push_back(expr(*a));
  const stdlib::DistributionEntry* d = stdlib::find_distribution(s.dist);
  if (!d) error(s.loc, "unknown distribution '" + s.dist + "'");
  if (guide_draws_) return guide_tilde(s, *d, params);
  Value y = expr(*s.lhs);
  stdlib::CallContext ctx(g_, file_, s.loc, s.dist + (d->discrete ? "_lpmf" : "_lpdf"));
  ctx.propto = !keep_constants_;
  Value lp = stdlib::lower_density(ctx, *d, y, params);
  for (NodeP c : ctx.checks) add_term(s.loc, c);
  size_t before = current_terms_->size();
  add_term(s.loc, lp.node);
  if (current_terms_->size() != before + 1 || current_terms_->back().value != lp.node) return;  // nothing kept as is
  // What was drawn from what, for the transforms that read the model's structure.
  TildeRecord record{d, "", "", {}, y, params, !path_ && current_terms_ == &terms_};
  const ast::Expr* target = s.lhs.get();
  if (target->kind == ast::ExprKind::Call && target->name == "to_vector" && target->args.size() == 1)
    target = target->args[0].get();
  if (target->kind == ast::ExprKind::Var) {
    record.variable = target->name;
    if (Var* v = find(target->name)) {
      record.block = v->block;
      record.variable_value = v->value;
    }
  }
  current_terms_->back().tilde = std::move(record);
}

// `z ~ dist(params)` in the guide: z's variational distribution, a
// reparameterisable one (the checker ensures it); its parameters broadcast to z's IR dims.
void Lowerer::guide_tilde(const ast::Stmt& s, const stdlib::DistributionEntry& d, const std::vector<Value>& params) {
  const std::string& name = s.lhs->name;
  auto dims = parameter_dims_.find(name);
  if (dims == parameter_dims_.end()) error(s.lhs->loc, "'" + name + "' is not a parameter");
  int64_t want = 1;
  for (int64_t n : dims->second) want *= n;
  std::vector<NodeP> shaped;
  for (size_t k = 0; k < params.size(); ++k) {
    NodeP n = g_.cast_real(params[k].node);
    if (n->is_scalar()) {
      shaped.push_back(g_.fill(n, dims->second));
      continue;
    }
    if (n->size() != want)
      error(s.loc, "the " + d.params.at(k).first + " of the guide's distribution for '" + name +
                       "' must be a scalar or have the parameter's shape");
    shaped.push_back(g_.reshape(n, dims->second));
  }
  stdlib::CallContext ctx(g_, file_, s.loc, "guide: " + d.name + " for '" + name + "'");
  stdlib::check_parameters(ctx, d, params);
  for (NodeP c : ctx.checks) add_term(s.loc, c);
  guide_draws_->push_back({name, location(s.loc), &d, shaped});
}

// A dense layer: x W + b, for a matrix x whose rows are data points (a row_vector
// is one such row; a vector is a column, W' x + b).
Lowerer::Value Lowerer::dense(const DenseLayer& layer, const Value& x, const ast::Expr& call) {
  NodeP w = layer.weight, b = layer.bias;
  int64_t in = w->dims[0], out = w->dims[1];
  int64_t got = x.node->dims.empty() ? 1 : x.node->dims.back();
  if (x.type.base == Base::Vector) got = x.node->dims[0];
  if (got != in)
    error(call.loc, "layer '" + call.name + "' takes " + std::to_string(in) + " inputs, but its argument has " +
                        std::to_string(got) + (x.type.base == Base::Matrix ? " columns" : " elements"));
  NodeP v = g_.cast_real(x.node);
  if (x.type.base == Base::Matrix) {
    int64_t rows = v->dims[0];
    NodeP bias_rows = g_.matmul(g_.fill(g_.constant(1), {rows, 1}), g_.reshape(b, {1, out}));
    return {g_.add(g_.matmul(v, w), bias_rows), x.type};
  }
  if (x.type.base == Base::RowVector) return {g_.add(g_.matmul(v, w), b), x.type};
  return {g_.add(g_.matmul(g_.transpose(w), v), b), x.type};
}

Lowerer::Value Lowerer::call(const ast::Expr& e) {
  if (auto layer = layers_.find(e.name); layer != layers_.end()) return dense(layer->second, expr(*e.args[0]), e);
  if (e.name == "target") {
    std::vector<NodeP> so_far;
    for (auto& t : terms_) so_far.push_back(t.value);
    return {g_.add_all(so_far), Type::real()};
  }
  std::vector<Value> args;
  for (auto& a : e.args) args.push_back(expr(*a));
  if (e.name == "multiply") return binary("*", args[0], args[1], e.type, e.loc);
  stdlib::CallContext ctx(g_, file_, e.loc, e.name);
  Value result;
  std::string base, suffix;
  if (const stdlib::FunctionEntry* f = stdlib::find_function(e.name)) {
    result = f->lower(ctx, args);
  } else if (stdlib::split_density_suffix(e.name, &base, &suffix)) {
    const stdlib::DistributionEntry* d = stdlib::find_distribution(base);
    if (!d) error(e.loc, "unknown distribution '" + base + "'");
    ctx.propto = suffix == "_lupdf" || suffix == "_lupmf";
    std::vector<Value> params(args.begin() + 1, args.end());
    result = stdlib::lower_density(ctx, *d, args[0], params);
  } else {
    error(e.loc, "unknown function '" + e.name + "'");
  }
  for (NodeP c : ctx.checks) add_term(e.loc, c);
  if (!e.type.is_error()) result.type = e.type;
  return result;
}

std::optional<std::pair<int64_t, int64_t>> Lowerer::int_range(NodeP n) const {
  if (n->is_const()) return std::make_pair(static_cast<int64_t>(n->value), static_cast<int64_t>(n->value));
  if (n->op == Op::LoopVar) {
    auto r = loop_ranges_.find(static_cast<int>(n->a));
    if (r != loop_ranges_.end()) return r->second;
    return std::nullopt;
  }
  if (n->op == Op::Add || n->op == Op::Sub) {
    auto a = int_range(n->args[0]), b = int_range(n->args[1]);
    if (!a || !b) return std::nullopt;
    if (n->op == Op::Add) return std::make_pair(a->first + b->first, a->second + b->second);
    return std::make_pair(a->first - b->second, a->second - b->first);
  }
  return std::nullopt;
}

// A 1-based Stan index into a dimension of `size`: returns the 0-based IR index,
// with a static bounds check when the range is known, a runtime check otherwise.
NodeP Lowerer::index_value(const Value& iv, int64_t size, SourceLoc loc) {
  if (!iv.type.is_int()) error(loc, "indexes must be integers (multi-indexing is not supported yet)");
  NodeP i0 = g_.sub(iv.node, g_.int_constant(1));
  auto range = int_range(iv.node);
  if (range) {
    if (range->first < 1 || range->second > size) {
      std::string value = range->first == range->second ? std::to_string(range->first)
                                                         : std::to_string(range->first) + ".." + std::to_string(range->second);
      error(loc, "index " + value + " out of range; expecting an index in 1.." + std::to_string(size));
    }
    return i0;
  }
  NodeP bad = g_.binary(Op::Or, g_.binary(Op::Lt, i0, g_.int_constant(0)), g_.binary(Op::Ge, i0, g_.int_constant(size)));
  add_check(loc, bad, "index out of range; expecting an index in 1.." + std::to_string(size), iv.node, "index");
  // Clamp so that an out-of-range index never reads outside memory.
  return g_.binary(Op::Max, g_.int_constant(0), g_.binary(Op::Min, i0, g_.int_constant(std::max<int64_t>(size - 1, 0))));
}

// Int data elements at known positions are folded to constants (they drive control flow).
NodeP Lowerer::fold_data(NodeP n) const {
  if (!n->is_scalar() || n->dtype != ir::DType::Int) return n;
  // Walk Index nodes with constant indexes down to a data Input.
  int64_t offset = 0;
  NodeP cur = n;
  std::vector<std::pair<int, int64_t>> steps;
  while (cur->op == Op::Index) {
    if (!cur->args[1]->is_const()) return n;
    steps.push_back({static_cast<int>(cur->a), static_cast<int64_t>(cur->args[1]->value)});
    cur = cur->args[0];
  }
  if (cur->op != Op::Input || cur->a != 1) return n;
  std::vector<int64_t> dims = cur->dims;
  std::vector<int64_t> strides(dims.size());
  int64_t s = 1;
  for (size_t d = 0; d < dims.size(); ++d) {
    strides[d] = s;
    s *= dims[d];
  }
  std::vector<int> axes_left(dims.size());
  for (size_t d = 0; d < dims.size(); ++d) axes_left[d] = static_cast<int>(d);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    int ir_axis = axes_left.at(static_cast<size_t>(it->first));
    offset += it->second * strides[static_cast<size_t>(ir_axis)];
    axes_left.erase(axes_left.begin() + it->first);
  }
  size_t at = static_cast<size_t>(cur->b + offset);
  if (at >= data_.size()) return n;
  return g_.int_constant(static_cast<int64_t>(data_[at]));
}

Lowerer::Value Lowerer::apply_indices(Value v, const std::vector<ast::Index>& indices, SourceLoc loc) {
  NodeP node = v.node;
  Type type = v.type;
  std::vector<int> axes = stan_axes(type, node->dims.size());
  size_t p = 0;
  for (const ast::Index& ix : indices) {
    if (p >= axes.size()) error(loc, "too many indexes");
    int axis = axes[p];
    int64_t size = node->dims[static_cast<size_t>(axis)];
    if (ix.kind == ast::Index::Kind::Single && !expr(*ix.lower).type.is_int()) {
      // Multi-index y[idx] (idx an int array): a generated tensor, y[idx[k]] for each k.
      Value idx = expr(*ix.lower);
      if (idx.node->dims.size() != 1) error(ix.lower->loc, "a multi-index must be a one-dimensional array of ints");
      NodeP k = g_.new_loop_var();
      int64_t n = idx.node->dims[0];
      loop_ranges_[static_cast<int>(k->a)] = {0, n - 1};
      Value element{fold_data(g_.index(idx.node, 0, k)), Type::int_()};
      std::vector<Term> per_element, *saved = current_terms_;
      current_terms_ = &per_element;
      NodeP picked = g_.index(node, axis, index_value(element, size, ix.lower->loc));
      current_terms_ = saved;
      for (Term& t : per_element) {  // range checks of each idx[k], summed over k
        t.value = g_.loop_sum(k, g_.int_constant(0), g_.int_constant(n - 1), t.value);
        keep_term(std::move(t));
      }
      // The picked slice becomes the slowest axis; move it back to `axis`.
      NodeP gathered = g_.loop_gen(k, g_.int_constant(0), n, picked);
      int last = static_cast<int>(gathered->dims.size()) - 1;
      if (axis != last) {
        if (gathered->dims.size() != 2) error(loc, "multi-indexing inside this container is not supported yet");
        gathered = g_.transpose(gathered);
      }
      node = gathered;
      ++p;
    } else if (ix.kind == ast::Index::Kind::Single) {
      Value iv = expr(*ix.lower);
      node = g_.index(node, axis, index_value(iv, size, ix.lower->loc));
      axes.erase(axes.begin() + static_cast<long>(p));
      for (int& a : axes)
        if (a > axis) --a;
      // Peel one Stan level off the type.
      type = type.element();
    } else {
      int64_t lo = 1, hi = size;
      if (ix.kind == ast::Index::Kind::Range) {
        if (ix.lower) lo = known_int(*ix.lower, "a slice bound");
        if (ix.upper) hi = known_int(*ix.upper, "a slice bound");
      }
      int64_t len = std::max<int64_t>(hi - lo + 1, 0);
      if (len > 0 && (lo < 1 || hi > size))
        error(loc, "slice " + std::to_string(lo) + ":" + std::to_string(hi) + " out of range; expecting 1.." +
                       std::to_string(size));
      node = g_.slice(node, axis, g_.int_constant(lo - 1), len);
      ++p;
    }
  }
  return {fold_data(node), type};
}

Lowerer::Value Lowerer::index(const ast::Expr& e) {
  // Element reads of a variable defined element-wise by the enclosing symbolic loop.
  const ast::Expr& base = *e.args[0];
  if (base.kind == ast::ExprKind::Var) {
    auto r = redirects_.find(base.name);
    if (r != redirects_.end() && !r->second.empty() && !e.indices.empty() &&
        e.indices[0].kind == ast::Index::Kind::Single) {
      Value first = expr(*e.indices[0].lower);
      if (first.node == r->second.back().loop_var) {
        Var* hidden = find(r->second.back().hidden);
        if (e.indices.size() == 1) return {hidden->value.node, e.type};
        // Apply the remaining indexes to the element.
        Value elem = hidden->value;
        NodeP node = elem.node;
        Type type = elem.type;
        std::vector<int> axes = stan_axes(type, node->dims.size());
        for (size_t k = 1; k < e.indices.size(); ++k) {
          const ast::Index& ix = e.indices[k];
          if (ix.kind != ast::Index::Kind::Single) error(e.loc, "slices of element-wise defined variables are not supported yet");
          Value iv = expr(*ix.lower);
          int axis = axes.front();
          node = g_.index(node, axis, index_value(iv, node->dims[static_cast<size_t>(axis)], ix.lower->loc));
          axes.erase(axes.begin());
          for (int& a : axes)
            if (a > axis) --a;
          type = type.element();
        }
        return {node, e.type};
      }
    }
  }
  Value v = expr(base);
  Value r = apply_indices(v, e.indices, e.loc);
  if (!e.type.is_error()) r.type = e.type;
  return r;
}

Lowerer::Value Lowerer::convert(const Value& v, const Type& to, const std::vector<int64_t>& dims, SourceLoc loc,
                                const std::string& what) {
  NodeP n = v.node;
  if (n->is_scalar() && !dims.empty()) error(loc, "cannot assign a scalar to " + what);
  if (n->dims != dims) {
    Value declared{g_.zeros(dims), to};
    error(loc, "size mismatch: " + what + " has size " + dims_text(to, declared.node) + " but the value has size " +
                   dims_text(v.type.is_error() ? to : v.type, n));
  }
  if (to.base != Base::Int) n = g_.cast_real(n);
  return {n, to};
}

// ---- statements ---------------------------------------------------------------------------------

void Lowerer::statements(const std::vector<ast::StmtPtr>& stmts) {
  for (auto& s : stmts) {
    if (break_ || continue_) return;
    statement(*s);
  }
}

void Lowerer::statement(const ast::Stmt& s) {
  using K = ast::StmtKind;
  switch (s.kind) {
    case K::Decl: return declare_local(s);
    case K::Assign: {
      Value rhs = expr(*s.rhs);
      if (s.op != "=") {
        Value current = expr(*s.lhs);
        std::string op = s.op.substr(0, s.op.size() - 1);
        rhs = binary(op, current, rhs, s.lhs->type, s.loc);
      }
      return assign(*s.lhs, rhs, s.loc);
    }
    case K::Tilde: return tilde(s);
    case K::TargetPlus: {
      Value v = expr(*s.rhs);
      return add_term(s.loc, g_.sum(g_.cast_real(v.node)));
    }
    case K::For: return for_loop(s);
    case K::Foreach: return foreach_loop(s);
    case K::While: return while_loop(s);
    case K::If: return if_statement(s);
    case K::Block:
      push_scope();
      statements(s.stmts);
      pop_scope();
      return;
    case K::Print:
    case K::Reject: return print_or_reject(s);
    case K::Break:
    case K::Continue:
      if (path_) error(s.loc, "break and continue under a condition that depends on parameters are not supported");
      (s.kind == K::Break ? break_ : continue_) = true;
      return;
    case K::Return: error(s.loc, "return is only allowed in functions, which are not supported yet");
    case K::Expression: {
      Value v = expr(*s.rhs);
      if (v.node->is_effect) add_term(s.loc, g_.mul(g_.constant(0), v.node));
      return;
    }
    case K::Empty: return;
  }
}

void Lowerer::declare_local(const ast::Stmt& s) {
  const ast::VarDecl& d = *s.decl;
  std::vector<int64_t> stan_dims, dims;
  declared_dims(d, &stan_dims, &dims);
  Value v;
  if (d.init) {
    v = convert(expr(*d.init), d.type, dims, d.init->loc, "'" + d.name + "'");
  } else {
    // Stan initialises local reals to NaN and ints to the smallest int.
    NodeP fill = d.type.base == Base::Int ? g_.int_constant(std::numeric_limits<int32_t>::min()) : g_.constant(NAN);
    v = {dims.empty() ? fill : g_.fill(fill, dims), d.type};
  }
  define(d.name, v, false, "local");
}

void Lowerer::assign(const ast::Expr& lhs, Value value, SourceLoc loc) {
  std::vector<const ast::Expr*> levels;
  const ast::Expr* root = &lhs;
  while (root->kind == ast::ExprKind::Index) {
    levels.push_back(root);
    root = root->args[0].get();
  }
  std::vector<const ast::Index*> path;
  for (auto it = levels.rbegin(); it != levels.rend(); ++it)
    for (auto& ix : (*it)->indices) path.push_back(&ix);
  std::string name = root->name;
  // v[i] = ... inside the symbolic loop that defines v element-wise.
  auto r = redirects_.find(name);
  if (r != redirects_.end() && !r->second.empty() && !path.empty()) {
    Value first = expr(*path[0]->lower);
    if (first.node == r->second.back().loop_var) {
      name = r->second.back().hidden;
      path.erase(path.begin());
    }
  }
  Var* var = find(name);
  if (!var) error(loc, "variable '" + name + "' has no value here");
  if (var->read_only) error(loc, "cannot assign to '" + name + "': " + var->block + " variables are read-only here");
  Value current = var->value;
  if (path.empty()) {
    var->value = convert(value, current.type, current.node->dims, loc, "'" + root->name + "'");
    return;
  }
  var->value = set_path(current, path, 0, value, loc);
}

Lowerer::Value Lowerer::set_path(const Value& current, const std::vector<const ast::Index*>& path, size_t k,
                                 const Value& value, SourceLoc loc) {
  if (k == path.size()) return convert(value, current.type, current.node->dims, loc, "the assigned element");
  const ast::Index& ix = *path[k];
  if (ix.kind != ast::Index::Kind::Single) error(loc, "assigning to a slice is not supported yet");
  std::vector<int> axes = stan_axes(current.type, current.node->dims.size());
  if (axes.empty()) error(loc, "too many indexes in assignment");
  int axis = axes.front();
  Value iv = expr(*ix.lower);
  NodeP i0 = index_value(iv, current.node->dims[static_cast<size_t>(axis)], ix.lower->loc);
  Value element{g_.index(current.node, axis, i0), current.type.element()};
  Value updated = set_path(element, path, k + 1, value, loc);
  return {g_.set_index(current.node, axis, i0, updated.node), current.type};
}

void Lowerer::print_or_reject(const ast::Stmt& s) {
  std::string text;
  std::vector<NodeP> values;
  std::vector<std::string> names;
  for (auto& a : s.args) {
    if (a->kind == ast::ExprKind::StringLit) {
      text += a->name;
      continue;
    }
    Value v = expr(*a);
    NodeP flat = v.node->is_scalar() ? v.node : g_.reshape(v.node, {v.node->size()});
    int64_t n = v.node->is_scalar() ? 1 : v.node->size();
    if (n > 1) text += "[";
    for (int64_t k = 0; k < n; ++k) {
      if (k) text += ",";
      text += kPrintValueSlot;
      values.push_back(v.node->is_scalar() ? flat : g_.index(flat, 0, g_.int_constant(k)));
      names.push_back("value");
    }
    if (n > 1) text += "]";
  }
  if (s.kind == ast::StmtKind::Print) {
    int id = g_.add_message({text, location(s.loc), names});
    add_term(s.loc, g_.print(g_.int_constant(1), id, values));
    return;
  }
  // reject: always fails where it is reached; the message carries the printed text.
  int id = g_.add_message({"reject: " + text, location(s.loc), {}});
  add_term(s.loc, g_.check(g_.int_constant(1), id, values));
}

// ---- control flow ------------------------------------------------------------------------------

void Lowerer::for_loop(const ast::Stmt& s) {
  Value lo = expr(*s.lower), hi = expr(*s.upper);
  LoopPlan plan = plan_loop(s);
  bool known = lo.node->is_const() && hi.node->is_const();
  if (plan.symbolic) {
    // Element-wise definitions need a constant trip count covering the whole variable.
    for (auto& name : plan.generated) {
      Var* v = find(name);
      if (!v) error(s.loc, "variable '" + name + "' has no value here");
      auto stan = stan_dims_of(v->value.type, v->value.node->dims);
      bool covers = known && !stan.empty() && lo.node->value == 1 && hi.node->value == stan[0];
      if (!covers) {
        plan.symbolic = false;
        plan.why_unrolled = "'" + name + "' is defined element-wise over part of its range";
      }
    }
  }
  if (plan.symbolic) return symbolic_for(s, lo.node, hi.node, plan);
  if (!known)
    error(s.loc, "this loop must be evaluated iteration by iteration (" + plan.why_unrolled +
                     "), so its bounds must be known from data");
  unrolled_for(s, static_cast<int64_t>(lo.node->value), static_cast<int64_t>(hi.node->value));
}

void Lowerer::unrolled_for(const ast::Stmt& s, int64_t lo, int64_t hi) {
  for (int64_t k = lo; k <= hi; ++k)
    if (!unrolled_iteration(s, {g_.int_constant(k), Type::int_()})) break;
}

void Lowerer::symbolic_for(const ast::Stmt& s, NodeP lo, NodeP hi, const LoopPlan& plan) {
  NodeP var = g_.new_loop_var();
  if (lo->is_const() && hi->is_const())
    loop_ranges_[static_cast<int>(var->a)] = {static_cast<int64_t>(lo->value), static_cast<int64_t>(hi->value)};
  else {
    auto rl = int_range(lo), rh = int_range(hi);
    if (rl && rh) loop_ranges_[static_cast<int>(var->a)] = {rl->first, rh->second};
  }
  push_scope();
  define(s.loop_var, {var, Type::int_()}, true, "loop");
  struct Pending {
    std::string name, hidden;
    bool generated;
  };
  std::vector<Pending> pending;
  for (auto& name : plan.generated) {
    Var* v = find(name);
    std::string hidden = "\x01" + name + "#" + std::to_string(hidden_counter_++);
    std::vector<int> axes = stan_axes(v->value.type, v->value.node->dims.size());
    NodeP elem = g_.index(v->value.node, axes.front(), g_.sub(var, g_.int_constant(1)));
    define(hidden, {elem, v->value.type.element()}, false, "local");
    redirects_[name].push_back({var, hidden});
    pending.push_back({name, hidden, true});
  }
  for (auto& name : plan.accumulated) {
    Var* v = find(name);
    std::string hidden = "\x01" + name + "#" + std::to_string(hidden_counter_++);
    NodeP zero = v->value.node->is_scalar() ? g_.constant(0) : g_.zeros(v->value.node->dims);
    // The accumulator starts from zero in the body; its old value is added after the loop.
    define(hidden, {zero, v->value.type}, false, "local");
    pending.push_back({name, hidden, false});
  }
  // Accumulators are written through the hidden name: rebind by aliasing.
  std::map<std::string, Var> saved_accumulators;
  for (auto& p : pending)
    if (!p.generated) {
      Var* outer = find(p.name);
      saved_accumulators[p.name] = *outer;
      Var* hidden = find(p.hidden);
      define(p.name, hidden->value, false, "local");  // shadows the outer variable in the body
    }

  std::vector<Term> body_terms;
  std::vector<Term>* saved_terms = current_terms_;
  current_terms_ = &body_terms;
  statement(*s.body);
  current_terms_ = saved_terms;

  std::map<std::string, Value> results;
  int64_t count = lo->is_const() && hi->is_const() ? static_cast<int64_t>(hi->value - lo->value + 1) : -1;
  for (auto& p : pending) {
    if (p.generated) {
      Value elem = find(p.hidden)->value;
      Var* outer = nullptr;
      for (auto it = scopes_.rbegin() + 1; it != scopes_.rend() && !outer; ++it) {
        auto f = it->vars.find(p.name);
        if (f != it->vars.end()) outer = &f->second;
      }
      NodeP gen = g_.loop_gen(var, lo, count, elem.node);
      if (outer->value.type.base == Base::Matrix && outer->value.type.array_dims == 0) gen = g_.transpose(gen);
      results[p.name] = {gen, outer->value.type};
      redirects_[p.name].pop_back();
    } else {
      Value inc = find(p.name)->value;  // the body-local accumulator
      Value old = saved_accumulators[p.name].value;
      results[p.name] = {g_.add(old.node, g_.loop_sum(var, lo, hi, inc.node)), old.type};
    }
  }
  pop_scope();
  for (auto& [name, v] : results) find(name)->value = v;
  for (auto& t : body_terms) {
    t.value = g_.loop_sum(var, lo, hi, t.value);
    keep_term(std::move(t));
  }
}

void Lowerer::foreach_loop(const ast::Stmt& s) {
  Value c = expr(*s.lower);
  std::vector<int> axes = stan_axes(c.type, c.node->dims.size());
  if (axes.empty()) error(s.loc, "foreach needs a container");
  int axis = axes.front();
  int64_t n = c.node->dims[static_cast<size_t>(axis)];
  // Matrices iterate over all elements in column-major order, like Stan.
  if (c.type.array_dims == 0 && c.type.base == Base::Matrix) {
    c.node = g_.reshape(c.node, {c.node->size()});
    axis = 0;
    n = c.node->size();
  }
  Type elem_type = c.type.array_dims > 0 ? c.type.element() : Type::real();
  for (int64_t k = 0; k < n; ++k)
    if (!unrolled_iteration(s, {fold_data(g_.index(c.node, axis, g_.int_constant(k))), elem_type})) break;
}

void Lowerer::while_loop(const ast::Stmt& s) {
  while (true) {
    Value c = expr(*s.cond);
    if (!c.node->is_const())
      error(s.cond->loc, "while conditions that depend on parameters are not supported (the condition must be known from data)");
    if (c.node->value == 0) break;
    if (++unrolled_iterations_ > kMaxUnrolledIterations)
      error(s.loc, "this while loop runs too long (limit " + std::to_string(kMaxUnrolledIterations) + " iterations)");
    statement(*s.body);
    continue_ = false;
    if (break_) {
      break_ = false;
      break;
    }
  }
}

void Lowerer::if_statement(const ast::Stmt& s) {
  Value c = expr(*s.cond);
  if (c.node->is_const()) {
    if (c.node->value != 0) {
      statement(*s.body);
    } else if (s.else_body) {
      statement(*s.else_body);
    }
    return;
  }
  // A condition known only at run time: lower both branches and merge what they change.
  NodeP cond = g_.binary(Op::Ne, c.node, c.node->dtype == ir::DType::Int ? g_.int_constant(0) : g_.constant(0));
  auto snapshot = [&]() {
    std::vector<std::map<std::string, Var>> s;
    for (auto& sc : scopes_) s.push_back(sc.vars);
    return s;
  };
  auto before = snapshot();
  NodeP saved_path = path_;
  auto branch = [&](const ast::Stmt* body, NodeP when) {
    path_ = saved_path ? g_.binary(Op::And, saved_path, when) : when;
    if (body) statement(*body);
    auto after = snapshot();
    for (size_t k = 0; k < scopes_.size(); ++k) scopes_[k].vars = before[k];
    return after;
  };
  auto then_state = branch(s.body.get(), cond);
  auto else_state = branch(s.else_body.get(), g_.unary(Op::Not, cond));
  path_ = saved_path;
  if (break_ || continue_) error(s.loc, "break and continue under a condition that depends on parameters are not supported");
  for (size_t k = 0; k < scopes_.size(); ++k) {
    for (auto& [name, var] : scopes_[k].vars) {
      NodeP t = then_state[k].at(name).value.node;
      NodeP e = else_state[k].at(name).value.node;
      if (t == e) continue;
      var.value.node = g_.select(cond, t, e);
    }
  }
}

}  // namespace latent
