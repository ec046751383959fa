// Symbolic reverse-mode differentiation on the IR.
//
// The derivative is built as new IR nodes (adjoint expressions), not recorded on
// a tape: the result is an ordinary DAG that the simplifying Graph constructors,
// CSE and code generation treat like any other. Loops differentiate into adjoint
// loops: the adjoint of a LoopSum is a LoopSum over the body's adjoint, and the
// adjoint of an element read x[i] inside a loop is a one-hot accumulation that
// the Graph turns into a generated tensor when the loop covers the axis.
#pragma once

#include "compiler/ir/ir.hpp"

#include <vector>

namespace latent::ir {

// One piece of a gradient: the adjoint of the parameter slice starting at `offset`.
struct GradientPart {
  int64_t offset;
  NodeP adjoint;  // same dims as the Input leaf it belongs to
};

// How an op is differentiated: by a rule (ops.def's DERIVATIVE columns, or the
// structural ops' cases in reverse.cpp), as a constant (zero gradient), or not at all.
enum class DerivativeRule { Rule, Zero, None };
DerivativeRule derivative_rule(Op op);

// d f / d (Input buffer 0) for a scalar f. Parameters that f does not depend on
// have no part (their gradient is zero).
std::vector<GradientPart> differentiate(Graph& g, NodeP f);

}  // namespace latent::ir
