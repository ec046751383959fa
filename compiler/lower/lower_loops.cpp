// Lowering control flow: `for` loops (symbolic or unrolled, see loop_plan.hpp),
// foreach, while and `if` on conditions known at run time.
#include "compiler/lower/lowerer.hpp"

#include "compiler/lower/loop_plan.hpp"
#include "compiler/lower/lowering_helpers.hpp"

#include "compiler/ir/substitute.hpp"

#include <cmath>
#include <functional>
#include <optional>
#include <iomanip>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace latent {

using ir::NodeP;
using ir::Op;
using lowering::dims_text;
using lowering::stan_axes;

// ---- control flow ------------------------------------------------------------------------------

// Lowers the body of loop `s` (variable `var`) once; what it adds to target is
// returned, to be wrapped in the loop by the caller. The body runs where a masked
// loop's range covers the variable and where an earlier iteration has not broken
// out; its break and continue are masked (loop_plan.hpp).
std::vector<Term> Lowerer::loop_body(const ast::Stmt& s, NodeP var, const LoopPlan& plan) {
  std::vector<Term> body_terms;
  std::vector<Term>* saved_terms = current_terms_;
  current_terms_ = &body_terms;
  enclosing_loops_.push_back(var);
  LoopExits exits{plan.breaks, plan.continues};
  LoopExits* saved_exits = std::exchange(loop_exits_, plan.breaks || plan.continues ? &exits : nullptr);
  push_scope();
  if (plan.continues) define(kContinued, {g_.int_constant(0), Type::int_()}, false, "local");
  NodeP runs = nullptr;
  auto [lo, hi] = std::exchange(masked_bounds_, {nullptr, nullptr});
  if (lo) runs = g_.binary(Op::And, g_.binary(Op::Ge, var, lo), g_.binary(Op::Le, var, hi));
  if (plan.breaks) {
    NodeP open = still_running();
    runs = runs ? g_.binary(Op::And, runs, open) : open;
  }
  if (runs)
    conditional(runs, s.body.get(), nullptr);
  else
    statement(*s.body);
  pop_scope();
  loop_exits_ = saved_exits;
  enclosing_loops_.pop_back();
  current_terms_ = saved_terms;
  return body_terms;
}

// The flags are this loop's own (an enclosing loop's, which the names would also
// find, mask the whole of this loop already).
NodeP Lowerer::still_running() {
  NodeP running = nullptr;
  for (auto [has, flag] : {std::pair{loop_exits_->breaks, &kBroken}, std::pair{loop_exits_->continues, &kContinued}}) {
    if (!has) continue;
    Var* v = find(*flag);
    if (!v) throw std::logic_error("a masked loop without its flag");
    NodeP clear = g_.binary(Op::Eq, v->value.node, g_.int_constant(0));
    running = running ? g_.binary(Op::And, running, clear) : clear;
  }
  if (!running) throw std::logic_error("a masked loop without flags");
  return running;
}

// break / continue in a symbolic loop or Scan: sets its flag (the enclosing
// `if`s merge it with their conditions); statements() masks what follows.
void Lowerer::masked_exit(const ast::Stmt& s) {
  Var* flag = find(s.kind == ast::StmtKind::Break ? kBroken : kContinued);
  if (!flag) throw std::logic_error("a masked break or continue without its flag");
  flag->value.node = g_.int_constant(1);
  ++loop_exits_->taken;
}

void Lowerer::for_loop(const ast::Stmt& s) {
  Value lo = expr(*s.lower), hi = expr(*s.upper);
  // A guide's loop, or a simulated model's loop that draws z[t] ~ ...: element by element.
  if (guide_draws_ || simulating_) {
    if (!lo.node->is_const() || !hi.node->is_const())
      error(s.loc, std::string("a loop in the ") + (simulating_ ? "model, simulated to draw its parameters," : "guide") +
                       " runs iteration by iteration, so its bounds must be known from data");
    return unrolled_for(s, static_cast<int64_t>(lo.node->value), static_cast<int64_t>(hi.node->value),
                        simulating_ ? "the model block is simulated to draw a parameter element by element"
                                    : "a loop in the guide draws its parameters element by element");
  }
  LoopPlan plan = plan_loop(s);
  if (!plan.breaks) return planned_for(s, lo, hi, plan);
  // The flag of a loop with break: a Scan's state (an unrolled loop leaves it 0).
  push_scope();
  define(kBroken, {g_.int_constant(0), Type::int_()}, false, "local");
  planned_for(s, lo, hi, plan);
  pop_scope();
}

void Lowerer::planned_for(const ast::Stmt& s, Value lo, Value hi, LoopPlan& plan) {
  bool known = lo.node->is_const() && hi.node->is_const();
  // The size of the variables defined element-wise, when they share one, and
  // whether the loop's range covers only part of them.
  std::optional<int64_t> generated_size;
  bool sizes_differ = false, partial_range = false;
  if (plan.symbolic) {
    // Element-wise definitions need a constant trip count covering the whole variable.
    for (auto& name : plan.generated) {
      Var* v = find(name);
      if (!v) error(s.loc, "variable '" + name + "' has no value here");
      auto stan = stan_dims_of(v->value.type, v->value.node->dims);
      if (!stan.empty()) {
        sizes_differ |= generated_size && *generated_size != stan[0];
        generated_size = stan[0];
      }
      bool covers = known && !stan.empty() && lo.node->value == 1 && hi.node->value == stan[0];
      if (!covers) {
        plan.symbolic = false;
        partial_range = true;
        plan.why_unrolled = "'" + name + "' is defined element-wise over part of its range";
      }
    }
  }
  // Bounds known only in an enclosing symbolic loop (a triangular loop): the
  // loop runs over the whole range, masked.
  if (partial_range && !known && generated_size && !sizes_differ) {
    plan.symbolic = true;
    masked_for(s, lo.node, hi.node, *generated_size, plan);
    return;
  }
  if (plan.symbolic) {
    // A variable overwritten by an inner loop is local only if that loop covers it.
    for (auto& [name, inner] : plan.overwritten) {
      if (!inner) continue;
      Var* v = find(name);
      if (!v) error(s.loc, "variable '" + name + "' has no value here");
      auto stan = stan_dims_of(v->value.type, v->value.node->dims);
      NodeP inner_lo = expr(*inner->lower).node, inner_hi = expr(*inner->upper).node;
      bool covers = !stan.empty() && inner_lo->is_const(1) && inner_hi->is_const() && inner_hi->value == stan[0];
      if (!covers) {
        plan.symbolic = false;
        plan.why_unrolled = "'" + name + "' carries a value from one iteration to the next (it is overwritten over part of its range)";
      }
    }
  }
  if (plan.symbolic) return symbolic_for(s, lo.node, hi.node, plan);
  if (!known)
    error(s.loc, "this loop must be evaluated iteration by iteration (" + plan.why_unrolled +
                     "), so its bounds must be known from data");
  int64_t count = static_cast<int64_t>(hi.node->value - lo.node->value + 1);
  // A loop with break is a Scan however short: unrolled, its break could not depend on parameters.
  bool scan_pays = count >= lowering::kMinScanIterations || (plan.breaks && count > 0);
  if (plan.scannable && scan_pays && scan_for(s, lo.node, count, plan)) return;
  if (!plan.size_exprs.empty() && count >= lowering::kMinScanIterations &&
      grouped_for(s, static_cast<int64_t>(lo.node->value), static_cast<int64_t>(hi.node->value), plan))
    return;
  unrolled_for(s, static_cast<int64_t>(lo.node->value), static_cast<int64_t>(hi.node->value), plan.why_unrolled);
}

// Counts one unrolled iteration against the bounds of lowering_helpers.hpp. An
// unrolled body is copied into the compiled program once per iteration, so what
// the copies add (operations that run at run time, and the elements they write)
// is bounded too: past it the user gets an error naming the loop and why it was
// unrolled, not minutes of LLVM.
void Lowerer::charge_unrolled_iteration(const ast::Stmt& s, const std::string& why) {
  if (++unrolled_iterations_ > lowering::kMaxUnrolledIterations)
    error(s.loc, "this loop must be evaluated iteration by iteration (" + why + ") and runs too long (limit " +
                     std::to_string(lowering::kMaxUnrolledIterations) + " iterations in all)");
  UnrolledCost now = unrolled_cost_;
  if (unrolled_depth_ > 0) now = now + (runtime_cost() - outermost_start_);
  if (now.operations > lowering::kMaxUnrolledOperations || now.elements > lowering::kMaxUnrolledElements) {
    bool copies = now.elements > lowering::kMaxUnrolledElements;
    error(s.loc, "this loop must be evaluated iteration by iteration (" + why +
                     "), and unrolled it is too large to compile: the unrolled loops make " +
                     std::to_string(now.operations) + " operations writing " + std::to_string(now.elements) +
                     " values (limits " + std::to_string(lowering::kMaxUnrolledOperations) + " and " +
                     std::to_string(lowering::kMaxUnrolledElements) + ")" +
                     (copies ? "; each assignment to one element of a vector or matrix copies it when unrolled" : ""));
  }
}

// What the graph holds that runs at run time (it reads parameters or draws).
Lowerer::UnrolledCost Lowerer::runtime_cost() const {
  return {static_cast<int64_t>(g_.runtime_node_count()), g_.runtime_element_total()};
}

// Brackets the lowering of one unrolled body; the outermost adds what it made.
void Lowerer::begin_unrolled_body() {
  if (unrolled_depth_++ == 0) outermost_start_ = runtime_cost();
}

void Lowerer::end_unrolled_body() {
  if (--unrolled_depth_ == 0) unrolled_cost_ = unrolled_cost_ + (runtime_cost() - outermost_start_);
}

// Runs one iteration of an unrolled loop with the loop variable bound to `value`;
// false when the body ended the loop with break.
bool Lowerer::unrolled_iteration(const ast::Stmt& s, Value value, const std::string& why) {
  charge_unrolled_iteration(s, why);
  begin_unrolled_body();
  push_scope();
  define(s.loop_var, value, true, "loop");
  {
    UnrolledExits unrolled(*this, path_);
    statement(*s.body);
  }
  pop_scope();
  end_unrolled_body();
  continue_ = false;
  if (returning_) return false;  // a return ends the loop and the function's body
  if (!break_) return true;
  break_ = false;
  return false;
}

void Lowerer::unrolled_for(const ast::Stmt& s, int64_t lo, int64_t hi, const std::string& why) {
  for (int64_t k = lo; k <= hi; ++k)
    if (!unrolled_iteration(s, {g_.int_constant(k), Type::int_()}, why)) break;
}

void Lowerer::symbolic_for(const ast::Stmt& s, NodeP lo, NodeP hi, const LoopPlan& plan, NodeP values) {
  NodeP var = g_.new_loop_var();
  if (lo->is_const() && hi->is_const())
    loop_ranges_[static_cast<int>(var->a)] = {static_cast<int64_t>(lo->value), static_cast<int64_t>(hi->value)};
  else {
    auto rl = int_range(lo), rh = int_range(hi);
    if (rl && rh) loop_ranges_[static_cast<int>(var->a)] = {rl->first, rh->second};
    loose_ranges_.insert(static_cast<int>(var->a));
  }
  push_scope();
  define(s.loop_var, {values ? g_.index(values, 0, var) : var, Type::int_()}, true, "loop");
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
    redirects_[name].push_back({var, hidden, {}});
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

  // Iteration-local variables declared outside: after the loop they hold the last iteration's value.
  std::map<std::string, Value> before_loop;
  for (auto& [name, inner] : plan.overwritten)
    if (Var* v = find(name)) before_loop[name] = v->value;

  std::vector<Term> body_terms = loop_body(s, var, plan);

  std::map<std::string, Value> results;
  int64_t count = lo->is_const() && hi->is_const() ? static_cast<int64_t>(hi->value - lo->value + 1) : -1;
  // Each result becomes a loop of its own: the draws they share are made once.
  std::vector<NodeP> outputs;
  for (auto& p : pending) outputs.push_back(find(p.generated ? p.hidden : p.name)->value.node);
  for (auto& t : body_terms) outputs.push_back(t.value);
  for (auto& [name, old] : before_loop) outputs.push_back(find(name)->value.node);
  std::unordered_map<NodeP, NodeP> draws = shared_draws(s.loc, var, lo, count, outputs);
  auto drawn_once = [&](NodeP n) { return draws.empty() ? n : ir::substitute(g_, n, draws); };
  for (auto& t : body_terms) t.value = drawn_once(t.value);
  for (auto& p : pending) {
    if (p.generated) {
      Value elem = find(p.hidden)->value;
      elem.node = drawn_once(elem.node);
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
      inc.node = drawn_once(inc.node);
      Value old = saved_accumulators[p.name].value;
      results[p.name] = {g_.add(old.node, g_.loop_sum(var, lo, hi, inc.node)), old.type};
    }
  }
  for (auto& [name, old] : before_loop) {
    Var* v = find(name);
    NodeP last = ir::substitute(g_, drawn_once(v->value.node), {{var, hi}});
    if (count == 0) last = old.node;
    else if (count < 0) last = g_.select(g_.binary(Op::Ge, hi, lo), last, old.node);
    results[name] = {last, old.type};
  }
  pop_scope();
  for (auto& [name, v] : results) find(name)->value = v;
  for (auto& t : body_terms) {
    t.value = g_.loop_sum(var, lo, hi, t.value);
    keep_term(std::move(t));
  }
}

// `for (j in lo:hi) v[j] = ...` over part of v's range, with bounds that vary
// with an enclosing loop (`for (j in 1:(i - 1))`): a symbolic loop over all of
// v's range 1..size whose body runs only where lo <= j <= hi, so the elements
// outside keep their values (everything else the body does is masked the same
// way). Bounds outside 1..size fail a check, as Stan's index check would.
void Lowerer::masked_for(const ast::Stmt& s, NodeP lo, NodeP hi, int64_t size, const LoopPlan& plan) {
  NodeP runs = g_.binary(Op::Le, lo, hi);
  const std::string message = "the loop's range runs outside 1.." + std::to_string(size) + ", the elements it defines";
  add_check(s.loc, g_.binary(Op::And, runs, g_.binary(Op::Lt, lo, g_.int_constant(1))), message, lo, "lower bound");
  add_check(s.loc, g_.binary(Op::And, runs, g_.binary(Op::Gt, hi, g_.int_constant(size))), message, hi, "upper bound");
  masked_bounds_ = {lo, hi};
  symbolic_for(s, g_.int_constant(1), g_.int_constant(size), plan);
}

bool Lowerer::scan_for(const ast::Stmt& s, NodeP lo, int64_t count, const LoopPlan& plan) {
  NodeP var = g_.new_loop_var();
  int loop = static_cast<int>(var->a);
  int64_t first = static_cast<int64_t>(lo->value);
  // The state's components, by name (lowering the body may copy scopes, moving
  // the Vars): each carried variable as the lowerer holds it (inside a symbolic
  // loop defining `v` element-wise, `v[i]` is its hidden element variable), or
  // for a windowed array the hidden variables holding v[i - 1], ..., v[i - W].
  struct Component {
    std::string name;
    std::string next_from;  // the variable whose value at the end of the body is the next state
    Value before;
    int64_t offset;
    bool hidden;
    bool is_int;
    // A matrix the loop touches in one column (LoopPlan::columns): the state is
    // column `column` (0-based) of `matrix`, the matrix as it was before the loop.
    NodeP column = nullptr, matrix = nullptr;
  };
  struct Window {
    std::string name, element;
    size_t lag1;  // the component holding v[i - 1]: after iteration k, v[lo + k]
    Value before;
  };
  std::vector<Component> components;
  std::vector<Window> windows;
  int64_t state_size = 0;
  bool ints = false;
  push_scope();  // the loop variable and the windows' hidden variables
  auto add_component = [&](const std::string& name, const std::string& next_from, NodeP before, const Type& type,
                           bool hidden) {
    // The declared type decides (a real variable may still hold an int value: rep_vector(0, n)).
    bool is_int = type.base == Base::Int;
    ints = ints || is_int;
    components.push_back({name, next_from, {is_int ? before : g_.cast_real(before), type}, state_size, hidden, is_int});
    state_size += before->size();
  };
  // The column a matrix is touched in, 0-based, checked as an index (null: not narrowed).
  auto narrowed_column = [&](const std::string& name, const Value& value) -> NodeP {
    auto c = plan.columns.find(name);
    if (c == plan.columns.end() || value.type.base != Base::Matrix || value.type.array_dims != 0 ||
        value.node->dims.size() != 2)
      return nullptr;
    return index_value(expr(*c->second), value.node->dims[1], c->second->loc);
  };
  for (const std::string& name : plan.carried) {
    auto r = redirects_.find(name);
    bool redirected = r != redirects_.end() && !r->second.empty();
    std::string held = redirected ? r->second.back().hidden : name;
    Var* v = find(held);
    if (!v) error(s.loc, "variable '" + name + "' has no value here");
    Value value = v->value;
    auto window = plan.windows.find(name);
    if (window != plan.windows.end() && !redirected && value.type.base != Base::Int) {
      // Window 0 (v read only at v[i]): one component holding the element written, starting at zero.
      const bool write_only = window->second == 0;
      int64_t lags = std::max<int64_t>(window->second, 1);
      std::vector<int> axes = stan_axes(value.type, value.node->dims.size());
      int axis = axes.empty() ? -1 : axes.front();
      bool fits = axis == static_cast<int>(value.node->dims.size()) - 1 && (write_only || first - lags >= 1) &&
                  first >= 1 && first + count - 1 <= value.node->dims[static_cast<size_t>(axis)];
      if (fits) {
        Window w{name, "\x01" + name + "#" + std::to_string(hidden_counter_++), components.size(), value};
        Type element = value.type.element();
        define(w.element, {g_.index(value.node, axis, g_.sub(var, g_.int_constant(1))), element}, false, "local");
        std::vector<std::string> lag_names;
        for (int64_t c = 1; c <= lags; ++c) {
          std::string lag = "\x01" + name + "#lag" + std::to_string(c) + "#" + std::to_string(hidden_counter_++);
          NodeP before = g_.index(value.node, axis, g_.int_constant(write_only ? 0 : first - c - 1));
          if (write_only) before = before->is_scalar() ? g_.constant(0) : g_.zeros(before->dims);
          define(lag, {before, element}, false, "local");
          add_component(lag, c == 1 ? w.element : lag_names.back(), before, element, true);
          lag_names.push_back(lag);
        }
        redirects_[name].push_back({var, w.element, lag_names});
        windows.push_back(std::move(w));
        continue;
      }
    }
    if (NodeP column = redirected ? nullptr : narrowed_column(name, value)) {
      NodeP matrix = g_.cast_real(value.node);
      add_component(held, held, g_.index(matrix, 1, column), Type::vector(), false);
      components.back().before.type = value.type;
      components.back().column = column;
      components.back().matrix = matrix;
      continue;
    }
    add_component(held, held, value.node, value.type, false);
  }
  auto abandon = [&]() {
    for (auto& w : windows) redirects_[w.name].pop_back();
    pop_scope();
    return false;
  };
  if (components.empty()) return abandon();
  // One variable is the state as it is; several are packed into one vector of
  // reals (ints among them are exact there, and converted back when read).
  bool packed = components.size() > 1;
  std::vector<int64_t> state_dims = packed ? std::vector<int64_t>{state_size} : components[0].before.node->dims;
  ir::DType dtype = ints && !packed ? ir::DType::Int : ir::DType::Real;
  auto pack = [&](const std::vector<NodeP>& parts) {
    if (!packed) return parts[0];
    NodeP sum = nullptr;
    for (size_t k = 0; k < parts.size(); ++k) {
      NodeP at = g_.int_constant(components[k].offset);
      NodeP part = parts[k]->is_scalar()
                       ? g_.one_hot(state_dims, 0, at, g_.cast_real(parts[k]))
                       : g_.pad_slice(state_dims, 0, at, g_.cast_real(g_.reshape(parts[k], {parts[k]->size()})));
      sum = sum ? g_.add(sum, part) : part;
    }
    return sum;
  };
  auto unpack = [&](NodeP state, size_t k) {
    if (!packed) return state;
    const std::vector<int64_t>& dims = components[k].before.node->dims;
    NodeP at = g_.int_constant(components[k].offset);
    NodeP part = dims.empty() ? g_.index(state, 0, at) : g_.reshape(g_.slice(state, 0, at, ir::element_count(dims)), dims);
    return components[k].is_int ? g_.unary(Op::RealToInt, part) : part;
  };
  std::vector<NodeP> initial;
  for (auto& c : components) initial.push_back(c.before.node);
  NodeP init = pack(initial);

  loop_ranges_[loop] = {first, first + count - 1};
  NodeP state = g_.scan_state(loop, state_dims, dtype);
  // A narrowed matrix is, in the body, the matrix before the loop with its column from the state.
  auto whole = [&](const Component& c, NodeP column_value) {
    return c.column ? g_.set_index(c.matrix, 1, c.column, column_value) : column_value;
  };
  for (size_t k = 0; k < components.size(); ++k) find(components[k].name)->value.node = whole(components[k], unpack(state, k));
  define(s.loop_var, {var, Type::int_()}, true, "loop");
  std::vector<Term> body_terms = loop_body(s, var, plan);
  std::vector<NodeP> next;
  for (auto& c : components) {
    NodeP value = find(c.next_from)->value.node;
    if (c.column) value = g_.index(g_.cast_real(value), 1, c.column);
    next.push_back(dtype == ir::DType::Int ? value : g_.cast_real(value));
  }
  for (auto& w : windows) redirects_[w.name].pop_back();
  pop_scope();

  // A loop over data alone whose iterations are read only through its final
  // state (transformed data, mostly) keeps that state, not its history. Its
  // terms may not read the state (the range checks of a masked inner loop do not).
  NodeP body = pack(next);
  auto reads_state = [&](NodeP root) {
    for (NodeP m : ir::topological_order({root}))
      if (m == state) return true;
    return false;
  };
  bool terms_read_state = false;
  for (auto& t : body_terms) terms_read_state = terms_read_state || reads_state(t.value);
  NodeP final_state = windows.empty() && !terms_read_state ? g_.scan_last(var, init, lo, count, body) : nullptr;
  NodeP history = final_state ? nullptr : g_.scan(var, init, lo, count, body);
  int last = history ? static_cast<int>(history->dims.size()) - 1 : 0;
  if (history) final_state = g_.index(history, last, g_.int_constant(count));
  for (size_t k = 0; k < components.size(); ++k)
    if (!components[k].hidden) find(components[k].name)->value.node = whole(components[k], unpack(final_state, k));
  // A windowed array: the elements the loop wrote, from the history of v[i - 1].
  for (auto& w : windows) {
    NodeP written = unpack(g_.index(history, last, g_.add(g_.sub(var, lo), g_.int_constant(1))), w.lag1);
    NodeP generated = g_.loop_gen(var, lo, count, written);
    const std::vector<int64_t>& dims = w.before.node->dims;
    int axis = static_cast<int>(dims.size()) - 1;
    NodeP start = g_.int_constant(first - 1);
    NodeP inside = g_.binary(Op::Ne, g_.pad_slice(dims, axis, start, g_.fill(g_.constant(1), generated->dims)),
                             g_.constant(0));
    find(w.name)->value.node = g_.select(inside, g_.pad_slice(dims, axis, start, generated), g_.cast_real(w.before.node));
  }
  // What the body adds to target reads the state of its own iteration (from
  // the history; a scan_last's terms do not read it).
  NodeP hi = g_.int_constant(first + count - 1);
  for (auto& t : body_terms) {
    NodeP value = history ? ir::substitute(g_, t.value, {{state, g_.index(history, last, g_.sub(var, lo))}}) : t.value;
    t.value = g_.loop_sum(var, lo, hi, value);
    keep_term(std::move(t));
  }
  return true;
}

// A loop unrolled only because the lengths of its slices change with data
// (`segment(beta, pos[n], m[n])` over items of different sizes): the iterations
// are grouped by those lengths, known from data, and each group is a symbolic
// loop over its iterations (an index list in the data buffer) with the lengths
// as constants. False (unrolled then) when a length is not known from data,
// there are more groups than kMaxSizeGroups or more iterations than an unrolled
// loop may have.
bool Lowerer::grouped_for(const ast::Stmt& s, int64_t lo, int64_t hi, const LoopPlan& plan) {
  constexpr size_t kMaxSizeGroups = 64;
  // Each iteration's sizes are evaluated while lowering: as many as an unrolled loop may have.
  if (hi - lo + 1 > lowering::kMaxUnrolledIterations) return false;
  std::map<std::vector<int64_t>, std::vector<int64_t>> groups;
  const std::vector<int64_t>* last = nullptr;  // the group of the last iteration runs last
  for (int64_t k = lo; k <= hi; ++k) {
    push_scope();
    define(s.loop_var, {g_.int_constant(k), Type::int_()}, true, "loop");
    std::vector<int64_t> key;
    for (const ast::Expr* e : plan.size_exprs) {
      NodeP v = fold_data_expression(expr(*e).node);
      if (!v->is_const()) break;
      key.push_back(static_cast<int64_t>(v->value));
    }
    pop_scope();
    if (key.size() != plan.size_exprs.size()) return false;
    auto group = groups.try_emplace(std::move(key)).first;
    group->second.push_back(k);
    if (k == hi) last = &group->first;
    if (groups.size() > kMaxSizeGroups) return false;
  }
  auto run = [&](const std::vector<int64_t>& key, const std::vector<int64_t>& members) {
    NodeP values = g_.input(1, static_cast<int64_t>(data_.size()), {static_cast<int64_t>(members.size())}, ir::DType::Int);
    data_.insert(data_.end(), members.begin(), members.end());
    for (size_t i = 0; i < key.size(); ++i) known_sizes_[plan.size_exprs[i]] = key[i];
    LoopPlan group_plan = plan;
    group_plan.symbolic = true;
    symbolic_for(s, g_.int_constant(0), g_.int_constant(static_cast<int64_t>(members.size()) - 1), group_plan, values);
    known_sizes_.clear();
  };
  for (auto& [key, members] : groups)
    if (&key != last) run(key, members);
  run(*last, groups.at(*last));
  return true;
}

// The draws (`_rng` calls) of a symbolic loop's body that vary with its
// variable: each loop result is emitted as a loop of its own (a LoopGen or
// LoopSum per variable), and a draw would be made again in each of them (y[n] =
// normal_rng(0, 1); z[n] = 2 * y[n] would see two different draws). Each such
// draw becomes an array of draws over the iterations, made once, which the body
// indexes. Arrays from inner loops are treated as draws by the outer ones.
std::unordered_map<NodeP, NodeP> Lowerer::shared_draws(SourceLoc loc, NodeP var, NodeP lo, int64_t count,
                                                       const std::vector<NodeP>& outputs) {
  std::unordered_map<NodeP, bool> depends;
  std::function<bool(NodeP)> varies = [&](NodeP n) -> bool {
    if (n == var) return true;
    auto it = depends.find(n);
    if (it != depends.end()) return it->second;
    bool d = false;
    for (NodeP a : n->args) d = d || varies(a);
    return depends[n] = d;
  };
  std::unordered_map<NodeP, NodeP> replace;
  std::unordered_set<NodeP> seen;
  std::function<void(NodeP)> visit = [&](NodeP n) {
    if (!seen.insert(n).second) return;
    if ((n->op == ir::Op::Random || draw_arrays_.count(n)) && varies(n)) {
      if (count < 0)
        error(loc, "_rng calls in a loop whose bounds depend on an enclosing loop's variable are not supported yet");
      NodeP all = g_.loop_gen(var, lo, count, n);
      draw_arrays_.insert(all);
      replace[n] = g_.index(all, static_cast<int>(n->dims.size()), g_.sub(var, lo));
      return;
    }
    for (NodeP a : n->args) visit(a);
  };
  for (NodeP o : outputs) visit(o);
  return replace;
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
    if (!unrolled_iteration(s, {fold_data(g_.index(c.node, axis, g_.int_constant(k))), elem_type},
                            "it is a foreach loop"))
      break;
}

// The iterations of a counted while loop (loop_plan.hpp), from the counter's value
// and the bound when both are known from data: the first k at which the condition
// fails for start + k * step. Nothing if it never fails or the loop would run
// longer than kMaxWhileTrips (`endless` says which).
std::optional<int64_t> Lowerer::while_trip_count(const CountedWhile& w, std::string* endless) {
  endless->clear();
  Var* counter = find(w.counter);
  if (!counter) return std::nullopt;
  NodeP start = fold_data_expression(counter->value.node);
  NodeP bound = fold_data_expression(expr(*w.bound).node);
  if (!start->is_const() || !bound->is_const()) return std::nullopt;
  // The distance to the bound in steps (the step's sign moves the counter towards it when positive).
  const double steps = (bound->value - start->value) / static_cast<double>(w.step);
  double trips;
  if (w.op == "!=") {
    trips = steps >= 0 && steps == std::floor(steps) ? steps : -1;
  } else {
    bool below = w.op == "<" || w.op == "<=", strict = w.op == "<" || w.op == ">";
    bool holds_at_start = below ? (strict ? start->value < bound->value : start->value <= bound->value)
                                : (strict ? start->value > bound->value : start->value >= bound->value);
    bool towards = below == (w.step > 0);
    trips = !holds_at_start ? 0 : !towards ? -1 : strict ? std::ceil(steps) : std::floor(steps) + 1;
  }
  if (trips < 0 || trips > static_cast<double>(lowering::kMaxWhileTrips)) {
    std::ostringstream why;
    if (trips < 0)
      why << "never ends: its counter '" << w.counter << "' moves by " << w.step
          << " each iteration and never makes the condition false";
    else
      why << "runs " << std::fixed << std::setprecision(0) << trips << " iterations, more than the limit of "
          << lowering::kMaxWhileTrips;
    *endless = why.str();
    return std::nullopt;
  }
  return static_cast<int64_t>(trips);
}

void Lowerer::while_loop(const ast::Stmt& s) {
  // A counted loop (`while (t <= T) { ...; t += 1; }`) runs as a for loop over its
  // trip count: symbolic or a Scan, not unrolled. The synthetic for statement
  // borrows the while loop's body (released, not freed, with the statement).
  if (std::optional<CountedWhile> counted = counted_while(s)) {
    std::string endless;
    std::optional<int64_t> trips = while_trip_count(*counted, &endless);
    // Without a break to end it, it would run until the unrolled loops' limit stops it.
    if (!endless.empty() && !counted->breaks) error(s.loc, "this while loop " + endless);
    if (trips) {
      if (*trips == 0) return;
      auto literal = [&](int64_t v) {
        auto e = std::make_unique<ast::Expr>();
        e->kind = ast::ExprKind::IntLit;
        e->loc = s.loc;
        e->int_value = v;
        e->type = Type::int_();
        return e;
      };
      std::shared_ptr<ast::Stmt> as_for(new ast::Stmt{}, [](ast::Stmt* f) {
        (void)f->body.release();
        delete f;
      });
      as_for->kind = ast::StmtKind::For;
      as_for->loc = s.loc;
      as_for->loop_var = "while iteration";  // not an identifier: no program names it
      as_for->lower = literal(1);
      as_for->upper = literal(*trips);
      as_for->body.reset(const_cast<ast::Stmt*>(s.body.get()));
      counted_loops_.push_back(as_for);
      return for_loop(*as_for);
    }
  }
  UnrolledExits unrolled(*this, path_);
  while (true) {
    Value c = expr(*s.cond);
    c.node = fold_data_expression(c.node);  // real data elements too: while (t[i] >= t_change[k])
    if (!c.node->is_const())
      error(s.cond->loc, "while conditions that depend on parameters are not supported (the condition must be known from data)");
    if (c.node->value == 0) break;
    charge_unrolled_iteration(s, "it is a while loop");
    begin_unrolled_body();
    statement(*s.body);
    end_unrolled_body();
    continue_ = false;
    if (returning_) break;
    if (break_) {
      break_ = false;
      break;
    }
  }
}

void Lowerer::if_statement(const ast::Stmt& s) {
  Value c = expr(*s.cond);
  // A condition on data alone is known now (in an unrolled loop, x[n] > 100 with n
  // a constant): the branch is chosen here, and a break under it is allowed.
  c.node = fold_data_expression(c.node);
  if (c.node->is_const()) {
    if (c.node->value != 0) {
      statement(*s.body);
    } else if (s.else_body) {
      statement(*s.else_body);
    }
    return;
  }
  // A condition known only at run time: lower both branches and merge what they change.
  conditional(g_.binary(Op::Ne, c.node, c.node->dtype == ir::DType::Int ? g_.int_constant(0) : g_.constant(0)),
              s.body.get(), s.else_body.get());
}

void Lowerer::conditional(NodeP cond, const ast::Stmt* then_body, const ast::Stmt* else_body) {
  auto lower = [&](const ast::Stmt* body) -> std::function<void()> {
    if (!body) return {};
    return [this, body] { statement(*body); };
  };
  conditional(cond, lower(then_body), lower(else_body), then_body->loc);
}

void Lowerer::conditional(NodeP cond, const std::function<void()>& lower_then, const std::function<void()>& lower_else,
                          SourceLoc loc) {
  auto snapshot = [&]() {
    std::vector<std::map<std::string, Var>> s;
    for (auto& sc : scopes_) s.push_back(sc.vars);
    return s;
  };
  auto before = snapshot();
  NodeP saved_path = path_;
  NodeP returned_before = frame_ ? frame_->returned : nullptr;
  // Each branch runs under its condition; `stopped`: it ended in a return (lower_functions.cpp).
  auto branch = [&](const std::function<void()>& body, NodeP when, bool* stopped) {
    path_ = saved_path ? g_.binary(Op::And, saved_path, when) : when;
    if (body) body();
    *stopped = std::exchange(returning_, false);
    auto after = snapshot();
    for (size_t k = 0; k < scopes_.size(); ++k) scopes_[k].vars = before[k];
    return after;
  };
  bool then_stopped = false, else_stopped = false;
  auto then_state = branch(lower_then, cond, &then_stopped);
  auto else_state = branch(lower_else, g_.unary(Op::Not, cond), &else_stopped);
  path_ = saved_path;
  if (break_ || continue_) exit_under_runtime_condition(loc);
  if (then_stopped && else_stopped) {
    returning_ = true;
    return;
  }
  for (size_t k = 0; k < scopes_.size(); ++k) {
    for (auto& [name, var] : scopes_[k].vars) {
      NodeP t = then_state[k].at(name).value.node;
      NodeP e = else_state[k].at(name).value.node;
      // After a branch that returned, only the other branch's values matter.
      var.value.node = then_stopped ? e : else_stopped ? t : t == e ? t : g_.select(cond, t, e);
    }
  }
  // After a return under this condition, the rest of the body runs only where it has not returned.
  if (frame_ && frame_->returned != returned_before) {
    NodeP open = g_.unary(Op::Not, frame_->returned);
    path_ = path_ ? g_.binary(Op::And, path_, open) : open;
  }
}

}  // namespace latent
