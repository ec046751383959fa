// Lowering statements: declarations, assignments, `~` (and the guide's), print and reject.
#include "compiler/lower/lowerer.hpp"

#include "compiler/lower/lowering_helpers.hpp"
#include "kernels/eval_context.hpp"
#include "stdlib/ir_math.hpp"

#include <cmath>
#include <limits>

namespace latent {

using ir::NodeP;
using ir::Op;
using lowering::dims_text;
using lowering::stan_axes;

// The variable under to_vector(y), to_row_vector(y), to_matrix(y, ...) (y itself
// in another shape, the same storage order), or the expression itself.
static const ast::Expr* reshaped_variate(const ast::Expr& e) {
  bool reshaped = e.kind == ast::ExprKind::Call && !e.args.empty() &&
                  (e.name == "to_vector" || e.name == "to_row_vector" || e.name == "to_matrix");
  return reshaped ? e.args[0].get() : &e;
}

void Lowerer::tilde(const ast::Stmt& s) {
  std::vector<Value> params;
  for (auto& a : s.args) params.push_back(expr(*a));
  if (s.function) {
    // A user-defined distribution: `y ~ foo(...)` is `target += foo_lupdf(y | ...)`.
    std::vector<Value> args{expr(*s.lhs)};
    args.insert(args.end(), params.begin(), params.end());
    Value lp = call_function(*s.function, args, s.loc, !keep_constants_ && outer_propto());
    return add_term(s.loc, g_.cast_real(lp.node));
  }
  bool inverse = false;
  if (const flows::Flow* flow = flow_of_call(s.dist, &inverse); flow && !inverse) return flow_tilde(s, *flow, params);
  const stdlib::DistributionEntry* d = stdlib::find_distribution(s.dist);
  if (!d) error(s.loc, "unknown distribution '" + s.dist + "'");
  if (guide_draws_) return guide_tilde(s, *d, params);
  if (simulating_) return simulated_tilde(s, *d, params);
  Value y = expr(*s.lhs);
  stdlib::CallContext ctx(g_, file_, s.loc, s.dist + (d->discrete ? "_lpmf" : "_lpdf"));
  ctx.propto = !keep_constants_ && outer_propto();
  Value lp = stdlib::lower_density(ctx, *d, y, params);
  for (NodeP c : ctx.checks) add_term(s.loc, c);
  record_tilde(s, lp.node, TildeRecord{d, "", "", {}, y, params, false, s.truncated, nullptr});
}

// Adds the term `lp` of `~` statement s and, when it is kept as is, what was drawn
// from what, for the transforms that read the model's structure.
void Lowerer::record_tilde(const ast::Stmt& s, NodeP lp, TildeRecord record) {
  size_t before = current_terms_->size();
  add_term(s.loc, lp);
  if (current_terms_->size() != before + 1 || current_terms_->back().value != lp) return;  // nothing kept as is
  if (frame_) return;  // inside a function the variate is an argument, not the program's variable
  record.top_level = !path_ && current_terms_ == &terms_;
  const ast::Expr* target = reshaped_variate(*s.lhs);
  if (target->kind == ast::ExprKind::Var) {
    record.variable = target->name;
    if (Var* v = find(target->name)) {
      record.block = v->block;
      record.variable_value = v->value;
    }
  }
  current_terms_->back().tilde = std::move(record);
}

// `y ~ dist(params) T[L, U]`: the density renormalised to [L, U], as Stan's: minus
// log(F(U) - F(L)) (one bound: log(1 - F(L)) or log F(U)), computed in full even
// under `~`, and a target of -inf when y is outside. For an int variate the lower
// bound is inclusive: P(L <= Y) = 1 - F(L - 1). The variate and the arguments are
// lowered again: the graph's interning makes them the nodes tilde() made.
void Lowerer::truncation(const ast::Stmt& s) {
  const stdlib::DistributionEntry& d = *stdlib::find_distribution(s.dist);
  Value y = expr(*s.lhs);
  std::vector<Value> params;
  for (auto& a : s.args) params.push_back(expr(*a));
  stdlib::CallContext ctx(g_, file_, s.loc, s.dist + (s.truncate_upper ? "_lcdf" : "_lccdf"));
  auto log_cdf = [&](NodeP at, bool complementary) {
    std::vector<Value> args{{at, d.discrete ? Type::int_() : Type::real()}};
    args.insert(args.end(), params.begin(), params.end());
    return stdlib::lower_log_cdf(ctx, d, args, complementary).node;
  };
  NodeP variate = g_.cast_real(y.node);
  NodeP lower = s.truncate_lower ? g_.cast_real(expr(*s.truncate_lower).node) : nullptr;
  NodeP upper = s.truncate_upper ? g_.cast_real(expr(*s.truncate_upper).node) : nullptr;
  NodeP below_lower = lower && d.discrete ? g_.sub(lower, g_.constant(1)) : lower;
  NodeP log_mass = nullptr, outside = g_.constant(0);
  if (lower && upper) {
    ctx.check(g_.unary(Op::Not, g_.binary(Op::Lt, lower, upper)),
              s.dist + ": truncation's lower bound must be less than its upper bound", lower, "lower bound");
    log_mass = stdlib::log_diff_exp(g_, log_cdf(upper, false), log_cdf(below_lower, false));
  } else if (lower) {
    log_mass = log_cdf(below_lower, true);
  } else if (upper) {
    log_mass = log_cdf(upper, false);
  }
  if (lower) outside = g_.binary(Op::Or, outside, g_.binary(Op::Lt, variate, lower));
  if (upper) outside = g_.binary(Op::Or, outside, g_.binary(Op::Gt, variate, upper));
  for (NodeP c : ctx.checks) add_term(s.loc, c);
  if (!log_mass) return;  // T[, ]: no bound, nothing changes
  add_term(s.loc, g_.select(outside, g_.constant(-std::numeric_limits<double>::infinity()), g_.neg(log_mass)));
}

// `z ~ dist(params)` in the guide: z's variational distribution, a
// reparameterisable one (the checker ensures it); its parameters broadcast to z's IR dims.
void Lowerer::guide_tilde(const ast::Stmt& s, const stdlib::DistributionEntry& d, const std::vector<Value>& params) {
  // The drawn part: the whole parameter, or z[i, j] (single indices into its array dimensions).
  std::vector<const ast::Expr*> index_levels;
  const ast::Expr* root = s.lhs.get();
  while (root->kind == ast::ExprKind::Index) {
    index_levels.push_back(root);
    root = root->args[0].get();
  }
  const std::string& name = root->name;
  auto dims = parameter_dims_.find(name);
  Var* var = find(name);
  if (dims == parameter_dims_.end() || !var) error(s.lhs->loc, "'" + name + "' is not a parameter");
  std::vector<int64_t> piece_dims = dims->second;
  int64_t piece_offset = 0;
  std::vector<const ast::Index*> path;
  for (auto it = index_levels.rbegin(); it != index_levels.rend(); ++it)
    for (auto& ix : (*it)->indices) path.push_back(&ix);
  for (const ast::Index* ix : path) {
    // The slowest IR axis is the next array dimension: each index picks one contiguous block.
    NodeP i = fold_data(expr(*ix->lower).node);
    if (!i->is_const())
      error(ix->lower->loc, "the index of a guide's ~ statement must be known when the model is compiled (a "
                            "constant, or the variable of a loop with known bounds)");
    int64_t size = piece_dims.back(), k = static_cast<int64_t>(i->value);
    if (k < 1 || k > size)
      error(ix->lower->loc, "index " + std::to_string(k) + " is out of range for '" + name + "' (1 to " +
                                std::to_string(size) + ")");
    piece_dims.pop_back();
    int64_t block = 1;
    for (int64_t n : piece_dims) block *= n;
    piece_offset += (k - 1) * block;
  }
  int64_t want = 1;
  for (int64_t n : piece_dims) want *= n;
  std::string what = path.empty() ? "'" + name + "'" : "this part of '" + name + "'";
  std::vector<NodeP> shaped;
  for (size_t k = 0; k < params.size(); ++k) {
    NodeP n = g_.cast_real(params[k].node);
    // A parameter drawn piece by piece is read through its drawn pieces only.
    for (NodeP leaf : ir::topological_order({n}))
      if (leaf->op == ir::Op::Input && leaf->a == 0)
        for (const std::string& drawn : piecewise_)
          if (reads_parameter(leaf, drawn))
            error(s.loc, "the guide's distribution for " + what + " reads part of '" + drawn +
                             "' that the guide has not drawn yet (draw each part before reading it)");
    if (n->is_scalar()) {
      shaped.push_back(piece_dims.empty() ? n : g_.fill(n, piece_dims));
      continue;
    }
    if (n->size() != want)
      error(s.loc, "the " + d.params.at(k).first + " of the guide's distribution for " + what +
                       " must be a scalar or have its shape");
    shaped.push_back(g_.reshape(n, piece_dims));
  }
  stdlib::CallContext ctx(g_, file_, s.loc, "guide: " + d.name + " for " + what);
  stdlib::check_parameters(ctx, d, params);
  for (NodeP c : ctx.checks) add_term(s.loc, c);
  if (path.empty()) {
    guide_draws_->push_back({name, location(s.loc), &d, shaped});
    return;
  }
  // Later statements read this piece as its placeholder.
  NodeP placeholder = g_.input(kGuidePieceBuffer, static_cast<int64_t>(guide_draws_->size()), piece_dims);
  guide_draws_->push_back({name, location(s.loc), &d, shaped, placeholder, piece_offset});
  piecewise_.insert(name);
  var->value = set_path(var->value, path, 0, {placeholder, var->value.type}, s.loc);
}

// `y ~ dist(params)` in the model simulated: when y is an element of a parameter
// (z[t]) or one reshaped (to_vector(z[t])), it is drawn and takes the draw.
void Lowerer::simulated_tilde(const ast::Stmt& s, const stdlib::DistributionEntry& d, const std::vector<Value>& params) {
  // Whole parameters (z ~ ...) are drawn from their prior statement by generation.
  const std::string name = drawn_parameter_piece(s);
  if (name.empty()) return;
  const ast::Expr* target = reshaped_variate(*s.lhs);
  // What cannot be drawn here is left undrawn, and generation reports why.
  auto cannot = [&](const std::string& why) {
    simulation_gaps_.emplace(name, location(s.loc) + ": " + s.dist + " " + why);
  };
  if (s.truncated) return cannot("is truncated (T[...]), and sample draws from untruncated distributions only");
  if (!d.sample || !d.elementwise)
    return cannot("cannot be drawn element by element: sample simulates distributions that act elementwise "
                  "(normal, exponential, ...)");
  Value y = expr(*target);
  std::vector<int64_t> dims = y.node->dims;
  std::vector<NodeP> shaped;
  for (const Value& p : params) {
    NodeP n = g_.cast_real(p.node);
    if (!n->is_scalar() && n->size() != (y.node->is_scalar() ? 1 : y.node->size()))
      return cannot("has a parameter of another size than its variate");
    shaped.push_back(n->is_scalar() || dims.empty() ? n : g_.reshape(n, dims));
  }
  constexpr int64_t kSimulatedDrawSites = int64_t{1} << 41;
  const auto k = static_cast<int64_t>(simulated_pieces_.size());
  NodeP draw = g_.random(d.sampler_id, kSimulatedDrawSites + k, ir::DType::Real, dims, shaped, {});
  NodeP placeholder = g_.input(kSimulatedPieceBuffer, k, dims);
  simulated_pieces_.push_back({placeholder, draw});
  Var* var = find(name);
  bool read_only = var->read_only;
  var->read_only = false;
  assign(*target, {placeholder, y.type}, s.loc);
  var->read_only = read_only;
}

// Whether Input(0) `leaf` lies in parameter `name`'s unconstrained values.
bool Lowerer::reads_parameter(NodeP leaf, const std::string& name) const {
  auto it = parameter_leaves_.find(name);
  if (it == parameter_leaves_.end()) return false;
  NodeP p = it->second;
  int64_t p_size = p->is_scalar() ? 1 : p->size(), size = leaf->is_scalar() ? 1 : leaf->size();
  return leaf->b < p->b + p_size && leaf->b + size > p->b;
}

// A dense layer: x W + b, for a matrix x whose rows are data points (a row_vector
// is one such row; a vector is a column, W' x + b).
// ---- statements ---------------------------------------------------------------------------------

void Lowerer::statements(const std::vector<ast::StmtPtr>& stmts, size_t first) {
  for (size_t k = first; k < stmts.size(); ++k) {
    if (break_ || continue_ || returning_) return;
    const int64_t taken = loop_exits_ ? loop_exits_->taken : 0;
    statement(*stmts[k]);
    // A masked break or continue in stmts[k]: the rest runs where neither was taken.
    if (loop_exits_ && loop_exits_->taken != taken && k + 1 < stmts.size()) {
      conditional(still_running(), [&] { statements(stmts, k + 1); }, {}, stmts[k + 1]->loc);
      return;
    }
  }
}

void Lowerer::exit_under_runtime_condition(SourceLoc loc) {
  error(loc, "break and continue under a condition that depends on parameters are not supported in a loop "
             "evaluated iteration by iteration");
}

void Lowerer::statement(const ast::Stmt& s) {
  try {
    statement_unchecked(s);
  } catch (const ir::TooLarge& e) {
    error(s.loc, e.what());
  }
}

// The variable a `~` statement draws into when it is an element of a parameter
// (z[t], or to_vector(z[t])): its name; else empty.
std::string Lowerer::drawn_parameter_piece(const ast::Stmt& s) const {
  const ast::Expr* target = reshaped_variate(*s.lhs);
  const ast::Expr* root = target;
  while (root->kind == ast::ExprKind::Index) root = root->args[0].get();
  if (root == target || root->kind != ast::ExprKind::Var || !parameter_leaves_.count(root->name)) return "";
  return root->name;
}

// Whether statement s (or one inside it) draws an element of a parameter.
bool Lowerer::draws_parameter_piece(const ast::Stmt& s) const {
  if (s.kind == ast::StmtKind::Tilde) return !drawn_parameter_piece(s).empty();
  for (const ast::Stmt* inner : {s.body.get(), s.else_body.get()})
    if (inner && draws_parameter_piece(*inner)) return true;
  for (const ast::StmtPtr& inner : s.stmts)
    if (draws_parameter_piece(*inner)) return true;
  return false;
}

void Lowerer::statement_unchecked(const ast::Stmt& s) {
  using K = ast::StmtKind;
  // Simulating, a loop that draws no element of a parameter is lowered as usual
  // (not iteration by iteration).
  bool is_loop = s.kind == K::For || s.kind == K::Foreach || s.kind == K::While;
  if (simulating_ && is_loop && !draws_parameter_piece(s)) {
    simulating_ = false;
    struct Restore {
      bool* flag;
      ~Restore() { *flag = true; }
    } restore{&simulating_};
    return statement_unchecked(s);
  }
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
    case K::Tilde:
      tilde(s);
      if (s.truncated) truncation(s);
      return;
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
      if (loop_exits_) return masked_exit(s);
      // An unrolled loop stops while lowering: the condition must be known then.
      if (path_ != unrolled_entry_path_) exit_under_runtime_condition(s.loc);
      (s.kind == K::Break ? break_ : continue_) = true;
      return;
    case K::Return: return return_statement(s);
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
  std::vector<int> axes = stan_axes(current.type, current.node->dims.size());
  if (axes.empty()) error(loc, "too many indexes in assignment");
  int axis = axes.front();
  if (ix.kind != ast::Index::Kind::Single) {
    // x[a:b] = v (or x[:] = v): the elements outside the slice are kept, those inside replaced.
    auto [start, len] = slice_bounds(ix, current.node->dims[static_cast<size_t>(axis)], loc);
    NodeP region = g_.slice(current.node, axis, start, len);
    Value placed;
    if (k + 1 == path.size()) {
      placed = convert(value, current.type, region->dims, loc, "the assigned slice");
    } else {
      // x[a:b, j] = v: position p of the slice gets v's element p assigned at the
      // remaining indexes (a loop over the slice's positions, generating the new slice).
      if (len == 0) return current;
      std::vector<int> value_axes = stan_axes(value.type, value.node->dims.size());
      if (value_axes.empty())
        error(loc, "the value assigned to a slice must be a container with as many elements as the slice has");
      int value_axis = value_axes.front();
      int64_t value_len = value.node->dims[static_cast<size_t>(value_axis)];
      if (value_len != len)
        error(loc, "size mismatch in assignment: the slice has " + std::to_string(len) + " elements, the value " +
                       std::to_string(value_len));
      NodeP p = g_.new_loop_var();
      loop_ranges_[static_cast<int>(p->a)] = {0, len - 1};
      Value element{g_.index(region, axis, p), current.type.element()};
      Value value_element{g_.index(value.node, value_axis, p), value.type.element()};
      NodeP updated = set_path(element, path, k + 1, value_element, loc).node;
      NodeP gathered = g_.loop_gen(p, g_.int_constant(0), len, updated);  // the slice's axis is now the last
      if (axis != static_cast<int>(gathered->dims.size()) - 1) {
        if (gathered->dims.size() != 2) error(loc, "assigning to this slice followed by more indexes is not supported");
        gathered = g_.transpose(gathered);
      }
      placed = {gathered, current.type};
    }
    if (len == 0) return current;
    const std::vector<int64_t>& dims = current.node->dims;
    NodeP inside = g_.pad_slice(dims, axis, start, g_.fill(g_.int_constant(1), region->dims));
    NodeP node = current.node->dtype == placed.node->dtype ? current.node : g_.cast_real(current.node);
    return {g_.select(inside, g_.pad_slice(dims, axis, start, placed.node), node), current.type};
  }
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

}  // namespace latent
