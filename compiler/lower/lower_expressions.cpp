// Lowering expressions: operators, calls into the library and layers, indexing.
#include "compiler/lower/lowerer.hpp"
#include "compiler/lower/flows.hpp"

#include "compiler/lower/lowering_helpers.hpp"
#include "kernels/eval_context.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace latent {

using ir::NodeP;
using ir::Op;
using lowering::dims_text;
using lowering::stan_axes;

// ---- expressions ----------------------------------------------------------------------------

Lowerer::Value Lowerer::expr(const ast::Expr& e) {
  using K = ast::ExprKind;
  if (!known_sizes_.empty())
    if (auto known = known_sizes_.find(&e); known != known_sizes_.end()) return {g_.int_constant(known->second), Type::int_()};
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
      for (auto& v : elems)
        if (v.node->dims != inner) error(e.loc, "the elements of this literal have different sizes");
      std::vector<int64_t> dims = inner;
      dims.push_back(static_cast<int64_t>(elems.size()));
      NodeP stacked = nullptr;
      if (e.type.base != Base::Int && elems.size() <= lowering::kMaxStackedElements) {
        // A few long elements (the columns of a design matrix): one slice each, never per element.
        int axis = static_cast<int>(inner.size());
        for (size_t k = 0; k < elems.size(); ++k) {
          NodeP slice = g_.one_hot(dims, axis, g_.int_constant(static_cast<int64_t>(k)), g_.cast_real(elems[k].node));
          stacked = stacked ? g_.add(stacked, slice) : slice;
        }
      } else {
        for (auto& v : elems) {
          NodeP flat = g_.reshape(v.node, {v.node->size()});
          for (int64_t k = 0; k < v.node->size(); ++k) {
            NodeP element = g_.index(flat, 0, g_.int_constant(k));
            nodes.push_back(e.type.base == Base::Int ? element : g_.cast_real(element));
          }
        }
        stacked = g_.pack(nodes, dims);
      }
      if (e.kind == K::RowVectorLit) stacked = g_.transpose(stacked);  // rows of a matrix
      return {stacked, e.type};
    }
  }
  error(e.loc, "unsupported expression");
}

// x / y, x %/% y or x % y on ints: a zero divisor is an error where it is known
// and a check at run time otherwise (generated code never traps on it).
Lowerer::Value Lowerer::integer_division(Op op, NodeP x, NodeP y, Type result, SourceLoc loc) {
  const std::string what = op == Op::Mod ? "modulus by zero" : "integer division by zero";
  if (y->is_const(0)) error(loc, what);
  if (!y->is_const()) add_check(loc, g_.binary(Op::Eq, y, g_.int_constant(0)), what, y, "divisor");
  return {g_.binary(op, x, y), result};
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
      if (a.type.is_int() && b.type.is_int()) return integer_division(Op::IntDiv, x, y, result, loc);
      return {g_.div(x, y), result};
    }
  }
  if (op == "/" || op == "\\") {  // b / A and A \ b with a matrix A: solves
    stdlib::CallContext ctx(g_, file_, loc, op == "/" ? "mdivide_right" : "mdivide_left");
    Value r = stdlib::lower_matrix_division(ctx, a, b, op == "\\");
    for (NodeP c : ctx.checks) add_term(loc, c);
    return {r.node, result};
  }
  if (op == "%") return integer_division(Op::Mod, x, y, result, loc);
  if (op == "%/%") return integer_division(Op::IntDiv, x, y, result, loc);
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

Lowerer::Value Lowerer::dense(const DenseLayer& layer, const Value& x, const ast::Expr& call) {
  NodeP w = layer.weight, b = layer.bias;
  int64_t in = w->dims[0];
  int64_t got = x.node->dims.empty() ? 1 : x.node->dims.back();
  if (x.type.base == Base::Vector) got = x.node->dims[0];
  if (got != in)
    error(call.loc, "layer '" + call.name + "' takes " + std::to_string(in) + " inputs, but its argument has " +
                        std::to_string(got) + (x.type.base == Base::Matrix ? " columns" : " elements"));
  NodeP v = g_.cast_real(x.node);
  if (x.type.base == Base::Matrix) return {flows::dense_rows(g_, v, w, b), x.type};
  if (x.type.base == Base::RowVector) return {g_.add(g_.matmul(v, w), b), x.type};
  return {g_.add(g_.matmul(g_.transpose(w), v), b), x.type};
}

Lowerer::Value Lowerer::call(const ast::Expr& e) {
  if (auto layer = layers_.find(e.name); layer != layers_.end()) return dense(layer->second, expr(*e.args[0]), e);
  bool inverse = false;
  if (const flows::Flow* flow = flow_of_call(e.name, &inverse)) return flow_call(*flow, inverse, e);
  if (e.name == "target") {
    std::vector<NodeP> so_far;
    for (auto& t : terms_) so_far.push_back(t.value);
    return {g_.add_all(so_far), Type::real()};
  }
  if (std::optional<Value> reduced = padded_reduction(e)) return *reduced;
  std::vector<Value> args;
  for (auto& a : e.args) args.push_back(expr(*a));
  if (e.function) {
    // foo_lupdf and _lp functions keep the caller's proportionality; foo_lpdf keeps every constant.
    std::string base, suffix;
    const bool unnormalized =
        stdlib::split_density_suffix(e.name, &base, &suffix) && (suffix == "_lupdf" || suffix == "_lupmf");
    const bool lp = e.name.size() > 3 && e.name.compare(e.name.size() - 3, 3, "_lp") == 0;
    const bool propto = unnormalized ? outer_propto() : lp ? (frame_ ? frame_->propto : !keep_constants_) : false;
    Value r = call_function(*e.function, args, e.loc, propto);
    if (!e.type.is_error()) r.type = e.type;
    return r;
  }
  if (e.name == "multiply") return binary("*", args[0], args[1], e.type, e.loc);
  stdlib::CallContext ctx(g_, file_, e.loc, e.name);
  Value result;
  std::string base, suffix;
  if (const stdlib::FunctionEntry* f = stdlib::find_function(e.name)) {
    result = f->lower(ctx, args);
  } else if (stdlib::split_rng_suffix(e.name, &base) && stdlib::find_distribution(base)) {
    ctx.loop_vars = enclosing_loops_;
    ctx.draw_site = ++draw_sites_;  // every lowering of a call is a new draw (unrolled loops too)
    result = stdlib::lower_rng(ctx, *stdlib::find_distribution(base), args);
  } else if (stdlib::split_density_suffix(e.name, &base, &suffix)) {
    const stdlib::DistributionEntry* d = stdlib::find_distribution(base);
    if (!d) error(e.loc, "unknown distribution '" + base + "'");
    ctx.propto = (suffix == "_lupdf" || suffix == "_lupmf") && outer_propto();
    std::vector<Value> params(args.begin() + 1, args.end());
    result = stdlib::lower_density(ctx, *d, args[0], params);
  } else {
    error(e.loc, "unknown function '" + e.name + "'");
  }
  for (NodeP c : ctx.checks) add_term(e.loc, c);
  if (!e.type.is_error()) result.type = e.type;
  return result;
}

// A reduction reading slices whose lengths are known only at run time
// (dot_product(head(p, i - 1), tail(w, i - 1)) in a loop over i, where IR values
// have fixed sizes): those slices are padded with zeros (stdlib::Padded) and the
// reduction's padded rule reads them. nullopt when no argument is such a slice.
std::optional<Lowerer::Value> Lowerer::padded_reduction(const ast::Expr& e) {
  auto is_padded_range = [&](const ast::ExprPtr& a) {
    return a->kind == ast::ExprKind::Index && a->indices.size() == 1 &&
           a->indices[0].kind == ast::Index::Kind::Range && a->indices[0].lower && a->indices[0].upper &&
           stdlib::reads_padded_range(e.name);
  };
  auto is_padded_slice = [&](const ast::ExprPtr& a) {
    return (a->kind == ast::ExprKind::Call && !a->function && stdlib::reads_padded(e.name, a->name)) ||
           is_padded_range(a);
  };
  if (e.function || std::none_of(e.args.begin(), e.args.end(), is_padded_slice)) return std::nullopt;
  std::vector<Value> plain;
  std::vector<stdlib::Padded> padded;
  bool any_padded = false;
  for (auto& a : e.args) {
    Value v;
    if (is_padded_range(a)) {
      // x[lo:hi]: padded when its bounds are not known (empty when hi < lo, as in Stan).
      NodeP lo = fold_data_expression(expr(*a->indices[0].lower).node);
      NodeP hi = fold_data_expression(expr(*a->indices[0].upper).node);
      if (!(lo->is_const() && hi->is_const()) && lo->dtype == ir::DType::Int && hi->dtype == ir::DType::Int &&
          !lo->depends_on_params && !hi->depends_on_params) {
        Value x = expr(*a->args[0]);
        stdlib::CallContext ctx(g_, file_, a->loc, "index range");
        NodeP length = g_.binary(Op::Max, g_.int_constant(0), g_.add(g_.sub(hi, lo), g_.int_constant(1)));
        padded.push_back(stdlib::padded_slice(ctx, x.node, lo, length, a->type));
        for (NodeP c : ctx.checks) add_term(a->loc, c);
        plain.push_back({});
        any_padded = true;
        continue;
      }
      v = expr(*a);
    } else if (is_padded_slice(a)) {
      std::vector<Value> slice_args;
      for (auto& x : a->args) slice_args.push_back(expr(*x));
      const stdlib::FunctionEntry& slice = *stdlib::find_function(a->name);
      stdlib::CallContext ctx(g_, file_, a->loc, a->name);
      std::optional<stdlib::Padded> p = slice.padded(ctx, slice_args);
      if (!p) v = slice.lower(ctx, slice_args);  // its length is known: an ordinary slice
      for (NodeP c : ctx.checks) add_term(a->loc, c);
      if (p) {
        any_padded = true;
        plain.push_back({});
        padded.push_back(*p);
        continue;
      }
      if (!a->type.is_error()) v.type = a->type;
    } else {
      v = expr(*a);
    }
    plain.push_back(v);
    padded.push_back({v.node, g_.int_constant(v.node->dims.empty() ? 1 : v.node->dims[0]), v.type});
  }
  const stdlib::FunctionEntry& f = *stdlib::find_function(e.name);
  stdlib::CallContext ctx(g_, file_, e.loc, e.name);
  Value result = any_padded ? f.reduce_padded(ctx, padded) : f.lower(ctx, plain);
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
  // Under a condition known only at run time (if (t < 12) x[t] ...), an index whose
  // range reaches outside is checked where the condition holds, not refused.
  // So is one whose range is only a bound (it reads a loop whose bounds vary).
  if (range && (range->first < 1 || range->second > size)) {
    bool loose = full_path() != nullptr;
    for (int loop : iv.node->free_loops) loose = loose || loose_ranges_.count(loop) > 0;
    if (loose) range.reset();
  }
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
NodeP Lowerer::fold_data(NodeP n, bool reals) const {
  if (!n->is_scalar() || (n->dtype != ir::DType::Int && !reals)) return n;
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
  if (n->dtype != ir::DType::Int) return g_.constant(data_[at]);
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
      auto [start, len] = slice_bounds(ix, size, loc);
      node = g_.slice(node, axis, start, len);
      ++p;
    }
  }
  return {fold_data(node), type};
}

std::pair<NodeP, int64_t> Lowerer::slice_bounds(const ast::Index& ix, int64_t size, SourceLoc loc) {
  NodeP lo = g_.int_constant(1), hi = g_.int_constant(size);
  if (ix.kind == ast::Index::Kind::Range) {
    for (auto [bound, text] : {std::pair{&lo, &ix.lower}, std::pair{&hi, &ix.upper}}) {
      if (!*text) continue;
      *bound = fold_data_expression(expr(**text).node);
      if ((*bound)->depends_on_params)
        error((*text)->loc, "a slice bound must be known when the data is read (it may not depend on parameters)");
    }
  }
  for (NodeP bound : {lo, hi})
    if (bound->dtype != ir::DType::Int || !bound->is_scalar()) error(loc, "a slice bound must be an integer");
  if (lo->is_const() && hi->is_const()) {
    int64_t l = static_cast<int64_t>(lo->value), h = static_cast<int64_t>(hi->value);
    int64_t len = std::max<int64_t>(h - l + 1, 0);
    if (len > 0 && (l < 1 || h > size))
      error(loc, "slice " + std::to_string(l) + ":" + std::to_string(h) + " out of range; expecting 1.." + std::to_string(size));
    return {g_.int_constant(len > 0 ? l - 1 : 0), len};
  }
  // Bounds that move together (i:(i + 2) with i a loop variable): base + offset each.
  auto split = [](NodeP n) -> std::pair<NodeP, int64_t> {
    if ((n->op == Op::Add || n->op == Op::Sub) && n->args[1]->is_const())
      return {n->args[0], static_cast<int64_t>(n->op == Op::Add ? n->args[1]->value : -n->args[1]->value)};
    if (n->op == Op::Add && n->args[0]->is_const()) return {n->args[1], static_cast<int64_t>(n->args[0]->value)};
    return {n, 0};
  };
  auto [lo_base, lo_offset] = split(lo);
  auto [hi_base, hi_offset] = split(hi);
  if (lo_base != hi_base)
    error(loc, "the length of this slice must be known when the data is read: its bounds may move with a loop "
               "variable, but only together (as in x[i:(i + 2)])");
  int64_t len = std::max<int64_t>(hi_offset - lo_offset + 1, 0);
  if (len == 0) return {g_.int_constant(0), 0};
  NodeP out_of_range = g_.binary(Op::Or, g_.binary(Op::Lt, lo, g_.int_constant(1)), g_.binary(Op::Gt, hi, g_.int_constant(size)));
  auto range = int_range(lo);
  bool inside = range && range->first >= 1 && range->second + (len - 1) <= size;
  if (!inside) add_check(loc, out_of_range, "slice out of range; expecting 1.." + std::to_string(size), lo, "its lower bound");
  return {g_.sub(lo, g_.int_constant(1)), len};
}

Lowerer::Value Lowerer::index(const ast::Expr& e) {
  // Element reads of a variable defined element-wise by the enclosing symbolic loop.
  const ast::Expr& base = *e.args[0];
  if (base.kind == ast::ExprKind::Var) {
    auto r = redirects_.find(base.name);
    if (r != redirects_.end() && !r->second.empty() && !e.indices.empty() &&
        e.indices[0].kind == ast::Index::Kind::Single) {
      Value first = expr(*e.indices[0].lower);
      // v[i], or in a Scan that keeps a window of v, v[i - c] (lowering.hpp: Redirect).
      const Redirect& redirect = r->second.back();
      std::string held = first.node == redirect.loop_var ? redirect.hidden : "";
      for (size_t c = 1; c <= redirect.lags.size() && held.empty(); ++c)
        if (first.node == g_.sub(redirect.loop_var, g_.int_constant(static_cast<int64_t>(c)))) held = redirect.lags[c - 1];
      if (!held.empty()) {
        Var* hidden = find(held);
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

}  // namespace latent
