// How a `for` loop is lowered, decided from its body before lowering it.
//
// Symbolic: the body is lowered once with the loop variable as an IR LoopVar,
// and becomes LoopSum nodes (target increments, `acc += ...` accumulators) and
// LoopGen nodes (`v[i] = ...` element-wise definitions). Its iterations are
// independent, so the derivative is an adjoint loop too.
// Scan: the loop has a carried dependence (a recursion such as
// sigma[t] = f(sigma[t - 1]), a running state) and nothing else in the way: it
// becomes an IR Scan over the carried variables (lower_loops.cpp).
// Unrolled: while, foreach, target(), draws with carried state, short loops:
// evaluated iteration by iteration with the loop variable known.
//
// break and continue do not unroll a loop: in a symbolic loop or a Scan the
// statements after them run masked (lower_loops.cpp), under two int flags the
// lowerer keeps as hidden variables: kContinued, set where the iteration has
// continued (local to the iteration), and kBroken, set where the loop has
// broken out (carried, so a loop with break is a Scan whose later iterations
// change nothing). Unrolled loops stop at a break whose condition is known.
#pragma once

#include "compiler/frontend/ast.hpp"

#include <map>
#include <optional>
#include <set>
#include <string>

namespace latent {

// The longest window of past elements a Scan keeps per variable.
inline constexpr int64_t kMaxWindow = 16;

// The hidden variables of a loop's break and continue (not identifiers: no program names them).
inline const std::string kBroken = "\x01broken";
inline const std::string kContinued = "\x01continued";

struct LoopPlan {
  bool symbolic = true;
  // The body has break / continue statements of this loop (not of loops inside it).
  bool breaks = false, continues = false;
  std::string why_unrolled;               // for `latent ir` and error messages
  // Not symbolic only because variables carry values between iterations: the
  // loop can be an IR Scan whose state is `carried` (every variable declared
  // outside the body and assigned in it), rather than unrolled.
  bool scannable = false;
  std::set<std::string> carried;
  // Carried arrays written only at v[i] and read only at v[i - c], c <= window:
  // the Scan's state keeps the last `window` elements (a recursion such as
  // sigma[t] = f(sigma[t - 1]) then carries one element, not the array). Window
  // 0: read only at v[i], so no element from before the loop is needed.
  std::map<std::string, int64_t> windows;
  // Carried matrices read and written only in column c (v[r, c], v[a:b, c],
  // sub_col(v, r, c, n), col(v, c)), c an expression the loop does not change
  // (an enclosing loop's variable): the Scan's state is that column, not the matrix.
  std::map<std::string, const ast::Expr*> columns;
  std::set<std::string> generated;        // v[i] = ...  (i the loop variable, first index)
  std::set<std::string> accumulated;      // acc += ... or acc[k] += ..., k not the loop variable (never read in the body)
  // Declared outside but overwritten in full before any read in every iteration
  // (`ps = ...;`, or `for (k in 1:K) ps[k] = ...;` first in the body): local to
  // the iteration, not carried. A name overwritten by an inner loop maps to that
  // loop, whose bounds the lowerer checks cover the whole variable.
  std::map<std::string, const ast::Stmt*> overwritten;
  // Unrolled only because sizes change with the loop variable, through data
  // (segment(beta, pos[n], m[n])): the expressions giving those sizes. The lowerer
  // groups the iterations by their values and runs each group as a symbolic loop.
  std::vector<const ast::Expr*> size_exprs;
};

LoopPlan plan_loop(const ast::Stmt& for_stmt);

// A counted while loop: `while (i OP bound)` (or `bound OP i`, OP one of < <= >
// >= !=) whose body changes the int counter i only by one unconditional
// `i += step` (or -=, or i = i + step) at its top level, assigns nothing the
// bound mentions, and has no continue or return (a break ends it early: the
// count is then an upper bound, the iterations after the break are masked). Its iterations can be
// counted from i's value and the bound before the body runs (the lowerer does,
// when both are known from data), and it runs as a `for` over that count.
struct CountedWhile {
  std::string counter;
  int64_t step = 0;
  std::string op;                 // as if written `counter op bound`
  const ast::Expr* bound = nullptr;
  bool breaks = false;            // the body may break out (the count is then a bound)
};
std::optional<CountedWhile> counted_while(const ast::Stmt& while_stmt);

}  // namespace latent
