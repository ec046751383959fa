#include "compiler/ir/substitute.hpp"

#include <stdexcept>

namespace latent::ir {

NodeP rebuild(Graph& g, NodeP n, const std::vector<NodeP>& a) {
  if (a == n->args) return n;
  int axis = static_cast<int>(n->a);
  switch (n->op) {
    case Op::Const: case Op::Input: case Op::LoopVar: case Op::ScanState: return n;
    case Op::CastReal: return g.cast_real(a[0]);
    case Op::Select: return g.select(a[0], a[1], a[2]);
    case Op::Sum: return g.sum(a[0]);
    case Op::MaxReduce: return g.max_reduce(a[0]);
    case Op::MatMul: return g.matmul(a[0], a[1]);
    case Op::Transpose: return g.transpose(a[0]);
    case Op::Cholesky: return g.cholesky(a[0]);
    case Op::TriSolve: return g.tri_solve(a[0], a[1], n->a != 0);
    case Op::Solve: return g.solve(a[0], a[1]);
    case Op::EigenSym: return g.eigen_sym(a[0]);
    case Op::Reshape: return g.reshape(a[0], n->dims);
    case Op::Fill: return g.fill(a[0], n->dims);
    case Op::Pack: return g.pack(a, n->dims);
    case Op::Index: return g.index(a[0], axis, a[1]);
    case Op::Slice: return g.slice(a[0], axis, a[1], n->b);
    case Op::OneHot: return g.one_hot(n->dims, axis, a[1], a[0]);
    case Op::PadSlice: return g.pad_slice(n->dims, axis, a[1], a[0]);
    case Op::SetIndex: return g.set_index(a[0], axis, a[1], a[2]);
    case Op::LoopSum: return g.loop_sum(g.loop_var(static_cast<int>(n->a)), a[0], a[1], a[2]);
    case Op::LoopGen: return g.loop_gen(g.loop_var(static_cast<int>(n->a)), a[0], n->b, a[1]);
    case Op::Scan: return g.scan(g.loop_var(static_cast<int>(n->a)), a[0], a[1], n->b, a[2]);
    case Op::ScanLast: {
      NodeP last = g.scan_last(g.loop_var(static_cast<int>(n->a)), a[0], a[1], n->b, a[2]);
      if (!last) throw std::logic_error("substitute: an unknown substituted into a scan_last");
      return last;
    }
    case Op::Check: return g.check(a[0], static_cast<int>(n->b), {a.begin() + 1, a.end()});
    case Op::Print: return g.print(a[0], static_cast<int>(n->b), {a.begin() + 1, a.end()});
    case Op::Random: {
      std::vector<NodeP> params, loops;
      for (NodeP x : a) (x->op == Op::LoopVar ? loops : params).push_back(x);
      return g.random(n->a, n->b, n->dtype, n->dims, params, loops);
    }
    default:
      if (n->args.size() == 1) return g.unary(n->op, a[0]);
      if (n->args.size() == 2) return g.binary(n->op, a[0], a[1]);
  }
  throw std::logic_error(std::string("rebuild: unsupported op ") + op_name(n->op));
}

NodeP substitute(Graph& g, NodeP root, const std::unordered_map<NodeP, NodeP>& replace) {
  std::unordered_map<NodeP, NodeP> done(replace);
  for (NodeP n : topological_order({root})) {
    if (done.count(n)) continue;
    std::vector<NodeP> args;
    args.reserve(n->args.size());
    for (NodeP x : n->args) args.push_back(done.at(x));
    done[n] = rebuild(g, n, args);
  }
  return done.at(root);
}

}  // namespace latent::ir
