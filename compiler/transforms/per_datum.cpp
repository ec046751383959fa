#include "compiler/transforms/per_datum.hpp"

#include "compiler/ir/substitute.hpp"

#include <unordered_map>

namespace latent {

using ir::NodeP;
using ir::Op;

namespace {

class DatumSplitter {
 public:
  DatumSplitter(ir::Graph& g, const std::vector<PlateLeaf>& leaves, int64_t batch)
      : g_(g), leaves_(leaves), b_(batch) {}

  // Per-row parts of the scalar s.
  NodeP rows(NodeP s) {
    if (!touches(s) || s->op == Op::Check) return g_.fill(g_.div(s, g_.constant(static_cast<double>(b_))), {b_});
    switch (s->op) {
      case Op::Add:
      case Op::Sub: {
        NodeP x = rows(s->args[0]), y = x ? rows(s->args[1]) : nullptr;
        return y ? g_.binary(s->op, x, y) : nullptr;
      }
      case Op::Neg: {
        NodeP x = rows(s->args[0]);
        return x ? g_.neg(x) : nullptr;
      }
      case Op::Mul:
      case Op::Div: {
        NodeP x = s->args[0], y = s->args[1];
        if (!touches(y)) {
          NodeP rx = rows(x);
          return rx ? g_.binary(s->op, rx, y) : nullptr;
        }
        if (s->op == Op::Mul && !touches(x)) {
          NodeP ry = rows(y);
          return ry ? g_.mul(x, ry) : nullptr;
        }
        return fail("a term multiplies two per-datum quantities after summing them");
      }
      case Op::Select: {
        if (touches(s->args[0])) return fail("a condition depends on the data points");
        NodeP x = rows(s->args[1]), y = x ? rows(s->args[2]) : nullptr;
        return y ? g_.select(s->args[0], x, y) : nullptr;
      }
      case Op::Sum: {
        NodeP v = batch_view(s->args[0]);
        if (!v || v->size() % b_ != 0) return fail("a sum mixes the data points");
        if (v->dims == std::vector<int64_t>{b_}) return v;
        // Column-major, element i is in row i mod B of the {B, rest} reshape: its datum's row.
        int64_t rest = v->size() / b_;
        return g_.matmul(g_.reshape(v, {b_, rest}), g_.fill(g_.constant(1), {rest}));
      }
      case Op::LoopSum: {
        // A loop over the plate: one iteration per datum (from 0, or from 1 as the
        // loop variable of `for (n in 1:N)` counts when the body reads it as such).
        NodeP lo = s->args[0], hi = s->args[1], body = s->args[2];
        NodeP var = g_.loop_var(static_cast<int>(s->a));
        if (lo->is_const() && hi->is_const(lo->value + static_cast<double>(b_ - 1)) && body->is_scalar() &&
            indexes_plate_by(body, var))
          return g_.loop_gen(var, lo, b_, body);
        // A loop over something else (the steps of a chain) whose body holds
        // terms of every datum: each iteration's per-datum parts, summed.
        if (lo->is_const() && hi->is_const()) {
          NodeP per_row = rows(body);
          return per_row ? g_.loop_sum(var, lo, hi, per_row) : nullptr;
        }
        return fail("a loop does not run once per data point");
      }
      default: return fail(std::string("a term combines the data points through '") + ir::op_name(s->op) + "'");
    }
  }

  std::string why;

 private:
  NodeP fail(const std::string& reason) {
    if (why.empty()) why = reason;
    return nullptr;
  }

  // Whether `body` reads plate-indexed values at the loop variable along their
  // plate axis (x[n] of a matrix[N, K]): the loop runs over the data points.
  bool indexes_plate_by(NodeP body, NodeP var) {
    for (NodeP n : ir::topological_order({body})) {
      if (n->op != Op::Index && n->op != Op::Slice) continue;
      NodeP t = n->args[0], at = n->args[1];
      if (t->dims.at(static_cast<size_t>(n->a)) != b_ || !touches(t)) continue;
      for (NodeP m : ir::topological_order({at}))
        if (m == var) return true;
    }
    return false;
  }

  bool touches(NodeP root) {
    for (NodeP n : ir::topological_order({root})) {
      auto [it, fresh] = touches_.emplace(n, false);
      if (!fresh) continue;
      bool t = leaf(n) != nullptr;
      for (NodeP a : n->args) t = t || touches_.at(a);
      it->second = t;
    }
    return touches_.at(root);
  }

  const PlateLeaf* leaf(NodeP n) const {
    if (n->op != Op::Input) return nullptr;
    int64_t size = n->is_scalar() ? 1 : n->size();
    for (const PlateLeaf& l : leaves_)
      if (n->a == l.buffer && n->b < l.offset + l.size && n->b + size > l.offset) return &l;
    return nullptr;
  }

  // A view of t is t itself, or t rebuilt from views of its arguments, such that
  // element i in column-major order depends on datum i mod B only. A tensor
  // whose first axis is the batch has it; so has one whose first axis holds
  // several blocks of B rows (to_matrix(x, B * L, K) of a {B, K * L} x, one row
  // per letter), since reshapes keep the order of elements.
  NodeP batch_view(NodeP t) {
    auto cached = views_.find(t);
    if (cached != views_.end()) return cached->second;
    NodeP v = make_view(t);
    views_[t] = v;
    return v;
  }

  // The view of a tensor whose first axis must be whole blocks of the batch
  // (the rows of a product, the rows a loop runs over).
  NodeP row_blocks_view(NodeP t) {
    if (t->dims.empty() || t->dims[0] % b_ != 0) return nullptr;
    return batch_view(t);
  }

  NodeP make_view(NodeP t) {
    if (t->is_scalar()) return nullptr;
    if (!touches(t)) return t;
    if (t->size() % b_ != 0) return nullptr;
    if (const PlateLeaf* l = leaf(t)) {
      bool whole = t->b == l->offset && t->size() == l->size;
      return whole && l->batch_axis_first && t->dims[0] == b_ ? t : nullptr;
    }
    if (t->op == Op::Reshape) return batch_view(t->args[0]) ? t : nullptr;
    if (ir::is_elementwise(t->op) || t->op == Op::CastReal) {
      for (NodeP a : t->args) {
        if (a->is_scalar() ? touches(a) : !batch_view(a)) return nullptr;
        if (!a->is_scalar() && a->dims != t->dims) return nullptr;  // a broadcast along the rows
      }
      return t;
    }
    if (t->op == Op::MatMul) {
      // Row r of x y is row r of x times y: it keeps the rows' data points.
      NodeP x = t->args[0], y = t->args[1];
      return x->dims.size() == 2 && !touches(y) && row_blocks_view(x) ? t : nullptr;
    }
    // Picking along a later axis keeps each element's datum (the axes before it
    // hold whole blocks of the batch); along the first axis, whole blocks only.
    if (t->op == Op::Index || t->op == Op::Slice) {
      NodeP x = t->args[0], start = t->args[1];
      if (!batch_view(x) || x->dims[0] % b_ != 0) return nullptr;
      if (t->a > 0) return t;
      return t->op == Op::Slice && start->is_const() && static_cast<int64_t>(start->value) % b_ == 0 ? t : nullptr;
    }
    if (t->op == Op::PadSlice) {  // zeros, with v placed at `start` along axis a
      NodeP v = t->args[0], start = t->args[1];
      if (!batch_view(v) || v->dims.empty() || v->dims[0] % b_ != 0 || t->dims[0] % b_ != 0) return nullptr;
      if (t->a > 0) return t;
      return start->is_const() && static_cast<int64_t>(start->value) % b_ == 0 ? t : nullptr;
    }
    if (t->op == Op::LoopGen && t->args[0]->is_const(0)) {
      NodeP body = t->args[1];
      int64_t count = t->b;
      // A loop over the rows (e.g. each row's maximum): element r is computed from row r only.
      if (body->is_scalar()) return count % b_ == 0 && reads_only_row(body, t, count) ? t : nullptr;
      // A loop appending a last axis (e.g. one-hot columns): element (i, c) is element i of the body at c.
      return row_blocks_view(body) ? t : nullptr;
    }
    return nullptr;
  }

  // Whether scalar `n`, the body of `loop`, reads the data points only through
  // rows `var` of tensors that have views and `count` rows.
  bool reads_only_row(NodeP n, NodeP loop, int64_t count) {
    if (!touches(n)) return true;
    if (n->op == Op::Index && n->a == 0 && n->args[1]->op == Op::LoopVar && n->args[1]->a == loop->a)
      return n->args[0]->dims[0] == count && row_blocks_view(n->args[0]) != nullptr;
    if (!ir::is_elementwise(n->op) && n->op != Op::CastReal && n->op != Op::MaxReduce && n->op != Op::Sum) return false;
    for (NodeP a : n->args)
      if (!reads_only_row(a, loop, count)) return false;
    return true;
  }

  ir::Graph& g_;
  const std::vector<PlateLeaf>& leaves_;
  int64_t b_;
  std::unordered_map<NodeP, bool> touches_;
  std::unordered_map<NodeP, NodeP> views_;
};

}  // namespace

NodeP per_datum_sums(ir::Graph& g, NodeP total, const std::vector<PlateLeaf>& leaves, int64_t batch,
                     std::string* why) {
  DatumSplitter splitter(g, leaves, batch);
  NodeP r = splitter.rows(total);
  if (!r && why) *why = splitter.why;
  return r;
}

}  // namespace latent
