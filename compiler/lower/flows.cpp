#include "compiler/lower/flows.hpp"

namespace latent::flows {

using ir::NodeP;
using ir::Op;

NodeP dense_rows(ir::Graph& g, NodeP rows, NodeP weight, NodeP bias) {
  const int64_t count = rows->dims[0], out = weight->dims[1];
  NodeP bias_rows = g.matmul(g.fill(g.constant(1), {count, 1}), g.reshape(bias, {1, out}));
  return g.add(g.matmul(rows, weight), bias_rows);
}

namespace {

// As the library's relu (stdlib/functions.cpp): a zero gradient at 0, as PyTorch's.
NodeP relu(ir::Graph& g, NodeP x) { return g.select(g.binary(Op::Gt, x, g.constant(0)), x, g.constant(0)); }

// A {D} vector repeated as each of `count` rows.
NodeP as_rows(ir::Graph& g, NodeP v, int64_t count) {
  return g.matmul(g.fill(g.constant(1), {count, 1}), g.reshape(v, {1, v->dims[0]}));
}

// The coupling's log-scale s and shift t for input rows u: zero where the layer
// keeps its input, and read only from the kept columns. Both directions see the
// same kept columns (y .* keep = u .* keep), so they compute the same s and t.
std::pair<NodeP, NodeP> scale_and_shift(ir::Graph& g, const AffineCoupling& c, NodeP u) {
  const int64_t count = u->dims[0];
  NodeP keep = as_rows(g, c.keep, count);
  NodeP transformed = g.sub(g.fill(g.constant(1), keep->dims), keep);
  NodeP h = relu(g, dense_rows(g, g.mul(u, keep), c.hidden1.weight, c.hidden1.bias));
  h = relu(g, dense_rows(g, h, c.hidden2.weight, c.hidden2.bias));
  NodeP s = g.mul(g.unary(Op::Tanh, dense_rows(g, h, c.log_scale.weight, c.log_scale.bias)), transformed);
  NodeP t = g.mul(dense_rows(g, h, c.shift.weight, c.shift.bias), transformed);
  return {s, t};
}

}  // namespace

// y = u .* exp(s) + t (s = t = 0 on the kept columns: y = u there).
NodeP forward(ir::Graph& g, const Flow& f, NodeP base) {
  NodeP u = base;
  for (const AffineCoupling& c : f.layers) {
    auto [s, t] = scale_and_shift(g, c, u);
    u = g.add(g.mul(u, g.unary(Op::Exp, s)), t);
  }
  return u;
}

// u = (y - t) .* exp(-s); log|det d u / d y| = -sum(s), layer by layer from the last.
Inverse inverse(ir::Graph& g, const Flow& f, NodeP data) {
  NodeP y = data, log_det = nullptr;
  for (auto c = f.layers.rbegin(); c != f.layers.rend(); ++c) {
    auto [s, t] = scale_and_shift(g, *c, y);
    y = g.mul(g.sub(y, t), g.unary(Op::Exp, g.neg(s)));
    log_det = log_det ? g.sub(log_det, s) : g.neg(s);
  }
  return {y, log_det};
}

}  // namespace latent::flows
