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
        if (!v) return fail("a sum mixes the data points");
        if (v->dims.size() == 1) return v;
        int64_t rest = v->size() / b_;
        return g_.matmul(g_.reshape(v, {b_, rest}), g_.fill(g_.constant(1), {rest}));
      }
      case Op::LoopSum: {
        // A loop over the plate: one iteration per datum.
        NodeP lo = s->args[0], hi = s->args[1], body = s->args[2];
        if (lo->is_const(0) && hi->is_const(static_cast<double>(b_ - 1)) && body->is_scalar())
          return g_.loop_gen(g_.loop_var(static_cast<int>(s->a)), lo, b_, body);
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

  // Flattens t to {B, rest}: column-major order keeps element i in row i mod B.
  NodeP as_rows(NodeP t) {
    if (t->size() % b_ != 0) return nullptr;
    if (!t->dims.empty() && t->dims[0] == b_) return t;
    return g_.reshape(t, {b_, t->size() / b_});
  }

  // An equivalent of tensor t whose axis 0 is the batch and whose row n
  // depends on datum n only; null when there is none.
  NodeP batch_view(NodeP t) {
    auto cached = views_.find(t);
    if (cached != views_.end()) return cached->second;
    NodeP v = make_view(t);
    views_[t] = v;
    return v;
  }

  NodeP make_view(NodeP t) {
    if (t->is_scalar()) return nullptr;
    if (!touches(t)) return as_rows(t);
    if (const PlateLeaf* l = leaf(t)) {
      bool whole = t->b == l->offset && t->size() == l->size;
      return whole && l->batch_axis_first && t->dims[0] == b_ ? t : nullptr;
    }
    if (t->op == Op::Reshape) {
      NodeP u = batch_view(t->args[0]);
      return u ? as_rows(u) : nullptr;
    }
    if (ir::is_elementwise(t->op) || t->op == Op::CastReal) {
      std::vector<NodeP> args;
      for (NodeP a : t->args) {
        if (a->is_scalar()) {
          if (touches(a)) return nullptr;
          args.push_back(a);
          continue;
        }
        NodeP v = batch_view(a);
        if (!v) return nullptr;
        args.push_back(as_rows(v));
      }
      return ir::rebuild(g_, t, args);
    }
    if (t->op == Op::MatMul) {
      NodeP x = t->args[0], y = t->args[1];
      if (x->dims.size() != 2 || touches(y)) return nullptr;
      NodeP v = batch_view(x);
      return v && v->dims == x->dims ? g_.matmul(v, y) : nullptr;
    }
    if (t->op == Op::LoopGen && t->b == b_ && t->args[0]->is_const(0) && t->args[1]->is_scalar())
      return t;  // one value per datum (e.g. a row's maximum)
    return nullptr;
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
