// How a `for` loop is lowered, decided from its body before lowering it.
//
// Symbolic: the body is lowered once with the loop variable as an IR LoopVar,
// and becomes LoopSum nodes (target increments, `acc += ...` accumulators) and
// LoopGen nodes (`v[i] = ...` element-wise definitions). Its iterations are
// independent, so the derivative is an adjoint loop too.
// Unrolled: the loop has a carried dependence (a recursion such as
// sigma[t] = f(sigma[t - 1]), a variable overwritten each iteration, break,
// while) and is evaluated iteration by iteration with the loop variable known.
#pragma once

#include "compiler/frontend/ast.hpp"

#include <set>
#include <string>

namespace latent {

struct LoopPlan {
  bool symbolic = true;
  std::string why_unrolled;               // for `latent ir` and error messages
  std::set<std::string> generated;        // v[i] = ...  (i the loop variable, first index)
  std::set<std::string> accumulated;      // acc += ... (never read in the body)
};

LoopPlan plan_loop(const ast::Stmt& for_stmt);

}  // namespace latent
