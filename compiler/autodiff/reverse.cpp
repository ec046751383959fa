#include "compiler/autodiff/reverse.hpp"

#include "compiler/ir/substitute.hpp"

#include <functional>
#include <string_view>
#include <algorithm>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

namespace latent::ir {

namespace {

// Adjoint contributions keyed by node id, so that results are deterministic.
using Contributions = std::map<int, std::pair<NodeP, NodeP>>;  // id -> (node, adjoint)

class ReverseSweep {
 public:
  explicit ReverseSweep(Graph& g) : g_(g) {}

  // Propagates `seed` (the adjoint of `root`) backwards through the nodes for
  // which `inside` holds; adjoints reaching other parameter-dependent nodes are
  // added to `outside`.
  void run(NodeP root, NodeP seed, const std::function<bool(NodeP)>& inside, Contributions& outside) {
    std::vector<NodeP> order = reachable_inside(root, inside);
    std::unordered_map<NodeP, NodeP> adjoint;
    adjoint[root] = seed;
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      NodeP n = *it;
      auto found = adjoint.find(n);
      if (found == adjoint.end()) continue;
      NodeP a = found->second;
      auto emit = [&](NodeP arg, NodeP c) {
        if (!arg->depends_on_params || arg->dtype == DType::Int) return;
        c = reduce_to_shape(c, arg);
        if (is_zero(c)) return;
        if (inside(arg)) {
          auto [slot, fresh] = adjoint.emplace(arg, c);
          if (!fresh) slot->second = g_.add(slot->second, c);
        } else {
          auto [slot, fresh] = outside.emplace(arg->id, std::make_pair(arg, c));
          if (!fresh) slot->second.second = g_.add(slot->second.second, c);
        }
      };
      propagate(n, a, emit);
    }
  }

 private:
  using Emit = std::function<void(NodeP, NodeP)>;

  static bool is_zero(NodeP c) {
    return c->is_const(0) || (c->op == Op::Fill && c->args[0]->is_const(0));
  }

  // The nodes this sweep visits: reachable from root (through loop bodies too),
  // inside, and not depending on a loop bound below root (those belong to the
  // sweep of their own loop).
  std::vector<NodeP> reachable_inside(NodeP root, const std::function<bool(NodeP)>& inside) {
    std::unordered_set<NodeP> seen;
    std::vector<NodeP> stack{root}, out;
    auto bound_below = [&](NodeP n) {
      return !std::includes(root->free_loops.begin(), root->free_loops.end(), n->free_loops.begin(),
                            n->free_loops.end());
    };
    while (!stack.empty()) {
      NodeP n = stack.back();
      stack.pop_back();
      if (!seen.insert(n).second) continue;
      if (n == root || (inside(n) && !bound_below(n))) out.push_back(n);
      for (NodeP a : n->args)
        if (a->depends_on_params) stack.push_back(a);
    }
    std::sort(out.begin(), out.end(), [](NodeP x, NodeP y) { return x->id < y->id; });
    return out;
  }

  NodeP reduce_to_shape(NodeP c, NodeP arg) {
    if (c->dims == arg->dims) return c;
    if (arg->is_scalar()) return g_.sum(c);
    if (c->is_scalar()) return g_.fill(c, arg->dims);
    throw std::logic_error("internal autodiff error: adjoint shape mismatch at " + std::string(op_name(arg->op)));
  }

  [[noreturn]] static NodeP no_derivative(NodeP n) {
    throw std::logic_error(std::string("the derivative of ") + op_name(n->op) + " is not implemented");
  }

  void propagate(NodeP n, NodeP a, const Emit& emit) {
    auto& g = g_;
    auto arg = [&](int k) { return n->args[static_cast<size_t>(k)]; };
    // The derivative columns of ops.def: a null adjoint adds nothing.
    auto emit_adjoint = [&](NodeP x, NodeP adjoint) {
      if (adjoint) emit(x, adjoint);
    };
    switch (n->op) {
#define ZERO_GRADIENT nullptr
#define NO_DERIVATIVE no_derivative(n)
#define UNARY(name, printed, result, fold, derivative, emit, language)   \
  case Op::name: {                                          \
    NodeP x = n->args[0], y = n;                            \
    (void)y;                                                \
    if (x->depends_on_params) emit_adjoint(x, derivative); \
    return;                                                 \
  }
#define BINARY(name, printed, result, fold, derivative_x, derivative_y, emit) \
  case Op::name: {                                                         \
    NodeP x = n->args[0], y = n->args[1];                                  \
    if (x->depends_on_params) emit_adjoint(x, derivative_x);              \
    if (y->depends_on_params) emit_adjoint(y, derivative_y);              \
    return;                                                                \
  }
#include "compiler/ir/ops.def"
#undef ZERO_GRADIENT
#undef NO_DERIVATIVE
      case Op::Const: case Op::Input: case Op::LoopVar: case Op::Check: case Op::Print: case Op::Random:
      case Op::ScanState: case Op::ScanLast:  // data alone: no adjoint
        return;
      case Op::Scan: return scan_adjoint(n, a, emit);
      case Op::Select:
        emit(arg(1), g.select(arg(0), a, g.constant(0)));
        return emit(arg(2), g.select(arg(0), g.constant(0), a));
      case Op::Sum: return emit(arg(0), g.fill(a, arg(0)->dims));
      case Op::MaxReduce: throw std::logic_error("max_reduce is only differentiated under stop_gradient");
      case Op::MatMul: return matmul_adjoint(n, a, emit);
      case Op::Transpose: return emit(arg(0), g.transpose(a));
      case Op::Cholesky: return cholesky_adjoint(n, a, emit);
      case Op::EigenSym: return eigen_sym_adjoint(n, a, emit);
      case Op::TriSolve: case Op::Solve: return solve_adjoint(n, a, emit);
      case Op::Reshape: return emit(arg(0), g.reshape(a, arg(0)->dims));
      case Op::Fill: return emit(arg(0), g.sum(a));
      case Op::Pack: {
        NodeP flat = g.reshape(a, {n->size()});
        for (size_t k = 0; k < n->args.size(); ++k)
          emit(n->args[k], g.index(flat, 0, g.int_constant(static_cast<int64_t>(k))));
        return;
      }
      case Op::Index:
        return emit(arg(0), g.one_hot(arg(0)->dims, static_cast<int>(n->a), arg(1), a));
      case Op::Slice:
        return emit(arg(0), g.pad_slice(arg(0)->dims, static_cast<int>(n->a), arg(1), a));
      case Op::OneHot: return emit(arg(0), g.index(a, static_cast<int>(n->a), arg(1)));
      case Op::PadSlice:
        return emit(arg(0), g.slice(a, static_cast<int>(n->a), arg(1), arg(0)->dims[n->a]));
      case Op::SetIndex: {
        int axis = static_cast<int>(n->a);
        std::vector<int64_t> slice_dims = n->dims;
        slice_dims.erase(slice_dims.begin() + axis);
        emit(arg(0), g.set_index(a, axis, arg(1), g.zeros(slice_dims)));
        return emit(arg(2), g.index(a, axis, arg(1)));
      }
      case Op::LoopSum: {
        int loop = static_cast<int>(n->a);
        NodeP var = g.loop_var(loop);
        Contributions out;
        run(n->args[2], a, [loop](NodeP m) { return m->depends_on_loop(loop); }, out);
        for (auto& [id, entry] : out) emit(entry.first, g.loop_sum(var, n->args[0], n->args[1], entry.second));
        return;
      }
      case Op::LoopGen: {
        int loop = static_cast<int>(n->a);
        NodeP body = n->args[1];
        NodeP var = g.loop_var(loop);
        NodeP lo = n->args[0];
        NodeP seed = g.index(a, static_cast<int>(n->dims.size()) - 1, g.sub(var, lo));
        Contributions out;
        run(body, seed, [loop](NodeP m) { return m->depends_on_loop(loop); }, out);
        NodeP hi = g.add(lo, g.int_constant(n->b - 1));
        for (auto& [id, entry] : out) emit(entry.first, g.loop_sum(var, lo, hi, entry.second));
        return;
      }
    }
    throw std::logic_error(std::string("no derivative rule for ") + op_name(n->op));
  }

  // The adjoint of a Scan's history H (slot 0 the initial state, slot k + 1 =
  // f(slot k, lo + k)) is a Scan run backwards: with a_H the history's adjoint,
  //   lambda_C = a_H[C],  lambda_k = a_H[k] + (df/ds at slot k)' lambda_{k+1},
  // whose own history L holds lambda_{C - j} in slot j; the initial state gets
  // lambda_0 and each value x the body reads from outside gets
  //   sum_k (df/dx at slot k)' lambda_{k+1}
  // as a LoopSum. The body's vector-Jacobian products come from one sweep of
  // the body seeded with the backward scan's state.
  void scan_adjoint(NodeP n, NodeP a, const Emit& emit) {
    auto& g = g_;
    int loop = static_cast<int>(n->a);
    int64_t count = n->b;
    NodeP init = n->args[0], lo = n->args[1], body = n->args[2];
    if (init->dtype == DType::Int || count == 0) return;
    int last = static_cast<int>(n->dims.size()) - 1;
    NodeP state = g.scan_state(loop, init->dims, init->dtype);
    NodeP var = g.loop_var(loop);
    NodeP back_var = g.new_loop_var();
    NodeP lambda = g.scan_state(static_cast<int>(back_var->a), init->dims, DType::Real);
    Contributions out;
    run(body, lambda, [loop, state](NodeP m) { return m != state && m->depends_on_loop(loop); }, out);
    // Step j of the backward scan is iteration k = C - 1 - j of the forward one.
    NodeP k_back = g.sub(g.int_constant(count - 1), back_var);
    NodeP back_body = g.index(a, last, k_back);
    for (auto& [id, entry] : out)
      if (entry.first == state)
        back_body = g.add(back_body, ir::substitute(g, entry.second, {{state, g.index(n, last, k_back)},
                                                                      {var, g.add(lo, k_back)}}));
    NodeP lambdas = g.scan(back_var, g.index(a, last, g.int_constant(count)), g.int_constant(0), count, back_body);
    if (init->depends_on_params) emit(init, g.index(lambdas, last, g.int_constant(count)));
    NodeP k = g.sub(var, lo);
    NodeP hi = g.add(lo, g.int_constant(count - 1));
    for (auto& [id, entry] : out) {
      if (entry.first == state) continue;
      NodeP at_k = ir::substitute(g, entry.second, {{state, g.index(n, last, k)},
                                                    {lambda, g.index(lambdas, last, g.sub(g.int_constant(count - 1), k))}});
      emit(entry.first, g.loop_sum(var, lo, hi, at_k));
    }
  }

  // An n x n mask: 1 strictly below (lower) or above (upper) the diagonal, `diagonal` on it, 0 elsewhere.
  NodeP triangle_mask(int64_t size, bool upper, double diagonal) {
    auto& g = g_;
    NodeP i = g.new_loop_var(), j = g.new_loop_var();  // row i, column j
    NodeP off = g.binary(upper ? Op::Lt : Op::Gt, i, j);
    NodeP body = g.select(off, g.constant(1), g.select(g.binary(Op::Eq, i, j), g.constant(diagonal), g.constant(0)));
    NodeP column = g.loop_gen(i, g.int_constant(0), size, body);
    return g.loop_gen(j, g.int_constant(0), size, column);
  }

  // X = T^-1 B (TriSolve, T triangular) or A^-1 B (Solve): B's adjoint is T^-T a (a
  // solve with the transpose, whose triangle is the other one), T's is -(B's adjoint) X',
  // kept to the triangle that T's values are read from.
  void solve_adjoint(NodeP n, NodeP a, const Emit& emit) {
    auto& g = g_;
    NodeP t = n->args[0], b = n->args[1];
    bool triangular = n->op == Op::TriSolve, upper = n->a != 0;
    NodeP b_adjoint = triangular ? g.tri_solve(g.transpose(t), a, !upper) : g.solve(g.transpose(t), a);
    if (b->depends_on_params) emit(b, b_adjoint);
    if (!t->depends_on_params) return;
    auto as_matrix = [&](NodeP v) { return v->dims.size() == 2 ? v : g.reshape(v, {v->dims[0], 1}); };
    NodeP outer = g.matmul(as_matrix(b_adjoint), g.transpose(as_matrix(n)));
    if (triangular) outer = g.mul(outer, triangle_mask(t->dims[0], upper, 1));
    emit(t, g.neg(outer));
  }

  // L = chol(A), reading A's lower triangle: with Phi(M) = M's lower triangle with its
  // diagonal halved and L_a = a's lower triangle (L has constant zeros above),
  //   S = L^-T Phi(L' L_a) L^-1,  A's adjoint = Phi(S + S')
  // (Murray 2016, "Differentiation of the Cholesky decomposition", with the
  // symmetric input read through its lower triangle).
  void cholesky_adjoint(NodeP n, NodeP a, const Emit& emit) {
    auto& g = g_;
    NodeP A = n->args[0];
    if (!A->depends_on_params) return;
    int64_t size = n->dims[0];
    NodeP phi = triangle_mask(size, false, 0.5);
    NodeP lower_a = g.mul(a, triangle_mask(size, false, 1));
    NodeP p = g.mul(g.matmul(g.transpose(n), lower_a), phi);
    NodeP y = g.tri_solve(g.transpose(n), p, true);                            // L^-T P
    NodeP s = g.transpose(g.tri_solve(g.transpose(n), g.transpose(y), true));  // (L^-T Y')' = Y L^-1
    emit(A, g.mul(g.add(s, g.transpose(s)), phi));
  }

  // A = V diag(lambda) V' (V orthogonal): with lambda's adjoint l and V's adjoint W,
  //   G = V (diag(l) + F .* (V' W)) V',  F[i, j] = 1 / (lambda_j - lambda_i) (0 on the diagonal),
  // the gradient for a symmetric perturbation of A; A's lower triangle (what the op
  // reads) gets Phi(G + G') as the Cholesky factor's. Equal eigenvalues make F infinite
  // (the eigenvectors are then not differentiable), as in Stan.
  void eigen_sym_adjoint(NodeP n, NodeP a, const Emit& emit) {
    auto& g = g_;
    NodeP A = n->args[0];
    if (!A->depends_on_params) return;
    int64_t size = n->dims[0];
    NodeP lambda = g.reshape(g.slice(n, 1, g.int_constant(0), 1), {size});
    NodeP V = g.slice(n, 1, g.int_constant(1), size);
    NodeP l = g.reshape(g.slice(a, 1, g.int_constant(0), 1), {size, 1});
    NodeP W = g.slice(a, 1, g.int_constant(1), size);
    NodeP ones = g.fill(g.constant(1), {size, 1});
    NodeP column = g.reshape(lambda, {size, 1});
    NodeP gaps = g.sub(g.matmul(ones, g.transpose(column)), g.matmul(column, g.transpose(ones)));  // lambda_j - lambda_i
    NodeP off = triangle_mask(size, false, 0);
    NodeP off_diagonal = g.add(off, g.transpose(off));
    NodeP F = g.select(g.binary(Op::Ne, off_diagonal, g.constant(0)), g.div(g.constant(1), gaps), g.constant(0));
    NodeP identity = triangle_mask(size, false, 1);
    identity = g.sub(identity, off);  // 1 on the diagonal only
    NodeP inner = g.add(g.mul(identity, g.matmul(l, g.transpose(ones))), g.mul(F, g.matmul(g.transpose(V), W)));
    NodeP G = g.matmul(V, g.matmul(inner, g.transpose(V)));
    emit(A, g.mul(g.add(G, g.transpose(G)), triangle_mask(size, false, 0.5)));
  }

  void matmul_adjoint(NodeP n, NodeP a, const Emit& emit) {
    auto& g = g_;
    NodeP x = n->args[0], y = n->args[1];
    size_t rx = x->dims.size(), ry = y->dims.size();
    auto column = [&](NodeP v) { return g.reshape(v, {v->dims[0], 1}); };
    auto row = [&](NodeP v) { return g.reshape(v, {1, v->dims[0]}); };
    if (rx == 2 && ry == 2) {  // C = X Y
      if (x->depends_on_params) emit(x, g.matmul(a, g.transpose(y)));
      if (y->depends_on_params) emit(y, g.matmul(g.transpose(x), a));
    } else if (rx == 2 && ry == 1) {  // c = X y
      if (x->depends_on_params) emit(x, g.matmul(column(a), row(y)));
      if (y->depends_on_params) emit(y, g.matmul(a, x));  // row a times X = X' a
    } else if (rx == 1 && ry == 2) {  // c = x' Y
      if (x->depends_on_params) emit(x, g.matmul(y, a));
      if (y->depends_on_params) emit(y, g.matmul(column(x), row(a)));
    } else {  // dot product
      if (x->depends_on_params) emit(x, g.mul(a, y));
      if (y->depends_on_params) emit(y, g.mul(a, x));
    }
  }

  Graph& g_;
};

}  // namespace

DerivativeRule derivative_rule(Op op) {
  switch (op) {
#define RULE_OF(derivative)                                              \
  (std::string_view(#derivative) == "ZERO_GRADIENT"   ? DerivativeRule::Zero \
   : std::string_view(#derivative) == "NO_DERIVATIVE" ? DerivativeRule::None \
                                                      : DerivativeRule::Rule)
#define UNARY(name, printed, result, fold, derivative, emit, language) \
  case Op::name: return RULE_OF(derivative);
#define BINARY(name, printed, result, fold, derivative_x, derivative_y, emit)                          \
  case Op::name:                                                                                    \
    return RULE_OF(derivative_x) == DerivativeRule::Zero && RULE_OF(derivative_y) == DerivativeRule::Zero \
               ? DerivativeRule::Zero                                                               \
               : DerivativeRule::Rule;
#include "compiler/ir/ops.def"
#undef RULE_OF
    case Op::Const: case Op::Input: case Op::LoopVar: case Op::Check: case Op::Print: case Op::Random:
    case Op::ScanState: case Op::ScanLast:
      return DerivativeRule::Zero;  // draws are not differentiated (they appear in generated quantities only)
    case Op::MaxReduce: return DerivativeRule::None;  // only under stop_gradient (log_sum_exp's shift)
    case Op::Select: case Op::Sum: case Op::MatMul: case Op::Transpose: case Op::Reshape: case Op::Fill:
    case Op::Cholesky: case Op::TriSolve: case Op::Solve: case Op::EigenSym:
    case Op::Pack: case Op::Index: case Op::Slice: case Op::OneHot: case Op::PadSlice: case Op::SetIndex:
    case Op::LoopSum: case Op::LoopGen: case Op::Scan:
      return DerivativeRule::Rule;
  }
  return DerivativeRule::None;
}

std::vector<GradientPart> differentiate(Graph& g, NodeP f) {
  if (!f->is_scalar()) throw std::logic_error("differentiate: objective is not a scalar");
  // The objective is a parameter itself (`target += x;`): the sweep only sees its arguments.
  if (f->op == Op::Input) return f->a == 0 ? std::vector<GradientPart>{{f->b, g.constant(1)}} : std::vector<GradientPart>{};
  ReverseSweep sweep(g);
  Contributions leaves;
  sweep.run(f, g.constant(1), [](NodeP n) { return n->op != Op::Input; }, leaves);
  std::vector<GradientPart> parts;
  for (auto& [id, entry] : leaves) {
    NodeP leaf = entry.first;
    if (leaf->op != Op::Input || leaf->a != 0) continue;
    parts.push_back({leaf->b, entry.second});
  }
  return parts;
}

}  // namespace latent::ir
