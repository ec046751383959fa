// User-defined functions, inlined at each call by the partial evaluator.
//
// A call lowers the function's body in a fresh scope that holds only its
// arguments (a Stan function sees nothing else). Data constants flow in with
// the arguments, so a condition on data picks its branch while lowering and a
// recursion on data (fib(n) with n data) unfolds into the values it computes.
//
// `return` ends the body. Under a condition known only at run time both
// branches of an `if` are lowered (lower_loops.cpp), so the frame of the call
// keeps the condition under which the body has already returned and the value
// returned so far: the statements after such an `if` run only where it has not
// returned, and a later `return` merges its value with select, as `if` merges
// assignments. Conditions inside the body are local to it (`path_` restarts at
// the call); target increments, checks and prints add the caller's condition
// (`full_path`).
//
// Calls nest at most kMaxCallDepth deep (lowering_helpers.hpp): a recursion
// whose condition depends on parameters has no end while lowering and is
// reported at the call that goes too deep. A call without effects (no target
// increment, check or print) and without randomness (not an _rng function) is
// remembered by its function and argument nodes, which the hash-consed IR makes
// equal exactly when the values are, so that fib(n) lowers each fib(k) once.
#include "compiler/lower/lowerer.hpp"

#include "compiler/lower/lowering_helpers.hpp"

#include <cmath>
#include <limits>

namespace latent {

using ir::NodeP;
using ir::Op;
using lowering::dims_text;

bool Lowerer::outer_propto() const { return frame_ ? frame_->propto : true; }

NodeP Lowerer::full_path() const {
  NodeP entry = frame_ ? frame_->entry_path : nullptr;
  if (!entry) return path_;
  if (!path_) return entry;
  return g_.binary(Op::And, entry, path_);
}

Lowerer::Value Lowerer::call_function(const ast::FunctionDef& f, const std::vector<Value>& given, SourceLoc loc,
                                      bool propto) {
  // Arguments take the declared types (int -> real promotion).
  std::vector<Value> args;
  std::vector<int> ids;
  for (size_t i = 0; i < given.size(); ++i) {
    Value v = given[i];
    // A recursion may branch on a real data element (y[3]): make it a known value.
    if (f.reaches_recursion) v.node = fold_data(v.node, true);
    const Type& want = f.args.at(i).type;
    if (want.base != Base::Int) v.node = g_.cast_real(v.node);
    v.type = want;
    args.push_back(v);
    ids.push_back(v.node->id);
  }
  auto key = std::make_tuple(reinterpret_cast<uintptr_t>(&f), propto, ids);
  if (auto m = memo_.find(key); m != memo_.end()) return m->second;
  // Each inlined call is a few frames of this recursive lowerer per statement
  // level of the body: a large body can exhaust the stack before the depth limit.
  const auto here = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (call_depth_ == 0) stack_base_ = here;
  if (call_depth_ >= lowering::kMaxCallDepth || stack_base_ - here > lowering::kMaxCallStackBytes)
    throw UserError(format_diagnostic(  // named by this call alone: the chain of callers is long
        // (the depth reached is not shown: it depends on the stack frames of the build)
        file_, {loc, "the call of '" + f.name + "' is nested too deeply (the limit is " +
                         std::to_string(lowering::kMaxCallDepth) +
                         " calls inside each other, less for large bodies): a recursion must end on values known when the data is read, but this one does not (its "
                         "condition depends on parameters, or it never ends)"}));
  if (++inlined_calls_ > lowering::kMaxInlinedCalls)
    error(loc, "too many calls of user-defined functions (more than " + std::to_string(lowering::kMaxInlinedCalls) +
                   " in all): every call is inlined, so a recursion that branches must stay small");

  // The caller's state is set aside: the body sees only its arguments.
  Frame frame;
  frame.function = &f;
  frame.call = loc;
  frame.entry_path = full_path();
  frame.propto = propto;
  std::vector<Scope> saved_scopes = std::exchange(scopes_, {});
  auto saved_redirects = std::exchange(redirects_, {});
  NodeP saved_path = std::exchange(path_, nullptr);
  Frame* saved_frame = std::exchange(frame_, &frame);
  bool saved_break = std::exchange(break_, false), saved_continue = std::exchange(continue_, false);
  bool saved_returning = std::exchange(returning_, false);
  // The body's break and continue belong to its own loops.
  UnrolledExits own_loops(*this, nullptr);
  const size_t terms_before = current_terms_->size(), checks_before = data_checks_.size();

  ++call_depth_;
  push_scope();
  for (size_t i = 0; i < args.size(); ++i) define(f.args[i].name, args[i], true, "function argument");
  statement(*f.body);
  --call_depth_;

  scopes_ = std::move(saved_scopes);
  redirects_ = std::move(saved_redirects);
  path_ = saved_path;
  frame_ = saved_frame;
  break_ = saved_break;
  continue_ = saved_continue;
  returning_ = saved_returning;

  Value result{g_.constant(0), Type::void_()};
  const Type& type = f.return_type;
  if (type.base != Base::Void) {
    if (frame.result) {
      result = *frame.result;
    } else if (type.array_dims == 0 && (type.base == Base::Int || type.base == Base::Real)) {
      // Every path rejected (the checker allows no other way to miss a return):
      // the value is never used, the failed check reports the reject.
      result = {type.base == Base::Int ? g_.int_constant(std::numeric_limits<int32_t>::min()) : g_.constant(NAN), type};
    } else {
      error(loc, "'" + f.name + "' returns no value when called here: every path through its body ends in reject");
    }
  }
  // An _rng function draws anew at each call (only _rng functions may call _rng
  // functions, so the others are deterministic).
  const bool random = f.name.size() > 4 && f.name.compare(f.name.size() - 4, 4, "_rng") == 0;
  const bool effects = current_terms_->size() != terms_before || data_checks_.size() != checks_before;
  if (!effects && !random) memo_[key] = result;
  return result;
}

void Lowerer::return_statement(const ast::Stmt& s) {
  if (!frame_) error(s.loc, "return is only allowed in functions");
  Frame& frame = *frame_;
  if (s.rhs) {
    Value v = expr(*s.rhs);
    v = convert(v, frame.function->return_type, v.node->dims, s.rhs->loc, "the returned value");
    if (frame.result) {
      // An earlier return under a run-time condition: keep its value where it returned.
      const Value& earlier = *frame.result;
      if (earlier.node->dims != v.node->dims)
        error(s.rhs->loc, "'" + frame.function->name + "' returns values of different sizes depending on values known "
                          "only at run time: " + dims_text(earlier.type, earlier.node) + " earlier, " +
                          dims_text(v.type, v.node) + " here");
      v.node = g_.select(frame.returned, earlier.node, v.node);
    }
    frame.result = v;
  }
  // path_ is the condition under which this statement runs in the body (null: always).
  if (!path_)
    frame.returned = g_.int_constant(1);
  else
    frame.returned = frame.returned ? g_.binary(Op::Or, frame.returned, path_) : path_;
  returning_ = true;
}

}  // namespace latent
