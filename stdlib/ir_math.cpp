#include "stdlib/ir_math.hpp"

#include <cmath>

namespace latent::stdlib {

using ir::NodeP;
using ir::Op;

// log(sum(exp(v))) with the maximum shifted out (its gradient stopped: the shift
// cancels exactly; an infinite maximum shifts by 0).
NodeP log_sum_exp_all(ir::Graph& g, NodeP v) {
  NodeP m = g.unary(Op::StopGradient, g.max_reduce(v));
  NodeP finite_m = g.select(g.binary(Op::Eq, g.unary(Op::Abs, m), g.constant(INFINITY)), g.constant(0), m);
  return g.add(finite_m, g.unary(Op::Log, g.sum(g.unary(Op::Exp, g.sub(v, finite_m)))));
}

// log_softmax of a rank-1 x (Stan's): x - log_sum_exp(x), the max shifted out (its gradient stopped).
NodeP log_softmax_vector(ir::Graph& g, NodeP x) { return g.sub(x, log_sum_exp_all(g, x)); }

// log_softmax of each row of a matrix x[m, n] (a batch of logits, one datum per row).
// Each row is shifted by its maximum (gradient stopped: the shift cancels exactly;
// an infinite maximum shifts by 0), exponentiated and summed by a product with ones.
NodeP log_softmax_rows(ir::Graph& g, NodeP x) {
  int64_t m = x->dims[0], n = x->dims[1];
  if (m == 0) return x;
  NodeP max = g.unary(Op::StopGradient, row_max(g, x));
  NodeP shift = g.select(g.binary(Op::Eq, g.unary(Op::Abs, max), g.constant(INFINITY)), g.constant(0), max);
  NodeP shifted = g.sub(x, across_columns(g, shift, n));
  NodeP log_norm = g.unary(Op::Log, g.matmul(g.unary(Op::Exp, shifted), g.fill(g.constant(1), {n})));
  return g.sub(shifted, across_columns(g, log_norm, n));
}

NodeP row_max(ir::Graph& g, NodeP x) {
  int64_t m = x->dims[0];
  NodeP i = g.new_loop_var();
  return g.loop_gen(i, g.int_constant(0), m, g.max_reduce(g.index(x, 0, i)));
}

NodeP across_columns(ir::Graph& g, NodeP v, int64_t columns) {
  return g.matmul(g.reshape(v, {v->dims[0], 1}), g.fill(g.constant(1), {1, columns}));
}

NodeP one_hot_rows(ir::Graph& g, NodeP y, int64_t k) {
  NodeP c = g.new_loop_var();
  // column c of the result: y == c + 1 (a LoopGen's last axis is its loop)
  NodeP column = g.cast_real(g.binary(Op::Eq, y, g.add(c, g.int_constant(1))));
  return g.loop_gen(c, g.int_constant(0), k, column);
}

NodeP log1m_exp(ir::Graph& g, NodeP x) {
  NodeP above = g.binary(Op::Gt, x, g.constant(-M_LN2));
  return g.select(above, g.unary(Op::Log, g.neg(g.unary(Op::Expm1, x))),
                  g.unary(Op::Log1p, g.neg(g.unary(Op::Exp, x))));
}

NodeP log_diff_exp(ir::Graph& g, NodeP a, NodeP b) { return g.add(a, log1m_exp(g, g.sub(b, a))); }

}  // namespace latent::stdlib
