// Dense linear algebra: the Cholesky factor, triangular and general solves (and the
// matrix division operators, lowered here), quadratic forms, diagonals. They lower
// to the IR's Cholesky, TriSolve and Solve ops (compiler/ir/ops.def), whose adjoints
// are in compiler/autodiff/reverse.cpp, and to matrix products.
#include "stdlib/linear_algebra.hpp"

#include "stdlib/entry_helpers.hpp"

#include <cmath>

namespace latent::stdlib {

using ir::NodeP;
using ir::Op;

namespace {

const Type R = Type::real(), I = Type::int_(), V = Type::vector(), RV = Type::row_vector(), M = Type::matrix();

std::string shape(NodeP m) {
  if (m->dims.size() == 2) return std::to_string(m->dims[0]) + " x " + std::to_string(m->dims[1]);
  return std::to_string(m->dims.empty() ? 1 : m->dims[0]);
}

// An int matrix (rows x cols) holding cond(i, j) of the row i and column j.
NodeP position_matrix(ir::Graph& g, int64_t rows, int64_t cols, Op compare) {
  NodeP i = g.new_loop_var(), j = g.new_loop_var();
  NodeP column = g.loop_gen(i, g.int_constant(0), rows, g.binary(compare, i, j));
  return g.loop_gen(j, g.int_constant(0), cols, column);
}

// A as the left operand of a solve: square, with as many rows as b has.
void require_solvable(CallContext& ctx, NodeP a, NodeP b, bool left) {
  require_square(ctx, a, "the matrix");
  int64_t rows = b->dims[0];
  if (!left) rows = b->dims.size() == 2 ? b->dims[1] : b->dims[0];
  if (rows != a->dims[0])
    ctx.error(ctx.name() + ": the sizes do not match: " + (left ? "a " + shape(a) + " matrix and a right-hand side of " +
                                                                     std::to_string(b->dims[0]) + " rows"
                                                                : "a right-hand side of " + std::to_string(rows) +
                                                                      " columns and a " + shape(a) + " matrix"));
}

// b A^-1 through A' x' = b': `solve` on the transposes (a row_vector is its own transpose in the IR).
NodeP solve_right(ir::Graph& g, NodeP b, const std::function<NodeP(NodeP)>& solve_transposed) {
  return g.transpose(solve_transposed(g.transpose(b)));
}

// X with L L' X = B, L lower triangular (the Cholesky factor of an SPD matrix).
NodeP cholesky_solve(ir::Graph& g, NodeP l, NodeP b) {
  return g.tri_solve(g.transpose(l), g.tri_solve(l, b, false), true);
}

}  // namespace

NodeP triangle(ir::Graph& g, NodeP m, bool upper, double diagonal) {
  int64_t rows = m->dims[0], cols = m->dims[1];
  if (rows == 0 || cols == 0) return m;
  NodeP off = position_matrix(g, rows, cols, upper ? Op::Lt : Op::Gt);
  NodeP on = position_matrix(g, rows, cols, Op::Eq);
  NodeP zero = g.constant(0);
  NodeP diag = diagonal == 1 ? m : g.mul(m, g.constant(diagonal));
  return g.select(off, m, g.select(on, diag, zero));
}

NodeP diagonal_of(ir::Graph& g, NodeP m) {
  int64_t n = std::min(m->dims[0], m->dims[1]);
  if (n == 0) return g.zeros({0});
  NodeP i = g.new_loop_var();
  return g.loop_gen(i, g.int_constant(0), n, g.index(g.index(m, 1, i), 0, i));
}

NodeP identity(ir::Graph& g, int64_t n) {
  if (n == 0) return g.zeros({0, 0});
  return g.cast_real(position_matrix(g, n, n, Op::Eq));
}

void require_square(CallContext& ctx, NodeP m, const std::string& what) {
  if (m->dims.size() != 2 || m->dims[0] != m->dims[1])
    ctx.error(ctx.name() + ": " + what + " must be square, but it is " + shape(m));
}

void check_symmetric(CallContext& ctx, NodeP m, const std::string& what) {
  ir::Graph& g = ctx.g;
  if (m->dims[0] <= 1) return;
  NodeP asymmetry = g.unary(Op::Abs, g.sub(m, g.transpose(m)));
  NodeP bad = g.unary(Op::Not, g.binary(Op::Le, asymmetry, g.constant(1e-8)));
  auto [any, worst] = g.any_violation(bad, asymmetry);
  ctx.check(any, ctx.name() + ": " + what + " is not symmetric", worst, "largest |m[i, j] - m[j, i]|");
}

NodeP checked_cholesky(CallContext& ctx, NodeP m, const std::string& what) {
  ir::Graph& g = ctx.g;
  m = g.cast_real(m);
  require_square(ctx, m, what);
  int64_t n = m->dims[0];
  if (n == 0) return m;
  check_symmetric(ctx, m, what);
  NodeP l = g.cholesky(m);
  auto [any, first] = failed_pivot(g, l);
  ctx.check(any, ctx.name() + ": " + what + " is not positive definite", first, "first failing row");
  return l;
}

// A pivot that is not positive leaves NaN on the diagonal from its row on.
std::pair<NodeP, NodeP> failed_pivot(ir::Graph& g, NodeP l) {
  int64_t n = l->dims[0];
  NodeP d = diagonal_of(g, l);
  NodeP bad = g.unary(Op::Not, g.binary(Op::Gt, d, g.constant(0)));
  NodeP i = g.new_loop_var();
  NodeP rows = g.cast_real(g.loop_gen(i, g.int_constant(1), n, i));
  NodeP any = g.binary(Op::Gt, g.sum(g.cast_real(bad)), g.constant(0));
  NodeP first = g.neg(g.max_reduce(g.select(bad, g.neg(rows), g.constant(-INFINITY))));
  return {any, first};
}

void register_linear_algebra_functions(std::vector<FunctionEntry>& out) {
  out.push_back({"cholesky_decompose", signatures("cholesky_decompose", {{{M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {checked_cholesky(ctx, a[0].node, "the matrix"), M};
                 }});
  out.push_back({"multiply_lower_tri_self_transpose", signatures("multiply_lower_tri_self_transpose", {{{M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP l = triangle(ctx.g, ctx.g.cast_real(a[0].node), false);
                   if (l->dims[0] == 0) return {ctx.g.zeros({0, 0}), M};
                   if (l->dims[1] == 0) return {ctx.g.zeros({l->dims[0], l->dims[0]}), M};
                   return {ctx.g.matmul(l, ctx.g.transpose(l)), M};
                 }});
  out.push_back({"tcrossprod", signatures("tcrossprod", {{{M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP x = ctx.g.cast_real(a[0].node);
                   if (x->dims[1] == 0) return {ctx.g.zeros({x->dims[0], x->dims[0]}), M};
                   return {ctx.g.matmul(x, ctx.g.transpose(x)), M};
                 }});
  out.push_back({"crossprod", signatures("crossprod", {{{M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP x = ctx.g.cast_real(a[0].node);
                   if (x->dims[0] == 0) return {ctx.g.zeros({x->dims[1], x->dims[1]}), M};
                   return {ctx.g.matmul(ctx.g.transpose(x), x), M};
                 }});

  // Solves: A \ b (mdivide_left), b / A (mdivide_right), with triangular and SPD variants.
  auto left = [](const std::string& name, std::function<NodeP(CallContext&, NodeP, NodeP)> solve) -> FunctionEntry {
    return {name, signatures(name, {{{M, V}, V}, {{M, M}, M}}),
            [solve](CallContext& ctx, const std::vector<Value>& a) -> Value {
              NodeP m = ctx.g.cast_real(a[0].node), b = ctx.g.cast_real(a[1].node);
              require_solvable(ctx, m, b, true);
              if (b->size() == 0) return {b, a[1].type};
              return {solve(ctx, m, b), a[1].type};
            }};
  };
  auto right = [](const std::string& name, std::function<NodeP(CallContext&, NodeP, NodeP)> solve) -> FunctionEntry {
    return {name, signatures(name, {{{RV, M}, RV}, {{M, M}, M}}),
            [solve](CallContext& ctx, const std::vector<Value>& a) -> Value {
              NodeP b = ctx.g.cast_real(a[0].node), m = ctx.g.cast_real(a[1].node);
              require_solvable(ctx, m, b, false);
              if (b->size() == 0) return {b, a[0].type};
              return {solve(ctx, m, b), a[0].type};
            }};
  };
  out.push_back(left("mdivide_left", [](CallContext& ctx, NodeP m, NodeP b) { return ctx.g.solve(m, b); }));
  out.push_back(right("mdivide_right", [](CallContext& ctx, NodeP m, NodeP b) {
    return solve_right(ctx.g, b, [&](NodeP bt) { return ctx.g.solve(ctx.g.transpose(m), bt); });
  }));
  out.push_back(left("mdivide_left_tri_low", [](CallContext& ctx, NodeP m, NodeP b) {
    return ctx.g.tri_solve(m, b, false);
  }));
  out.push_back(right("mdivide_right_tri_low", [](CallContext& ctx, NodeP m, NodeP b) {
    return solve_right(ctx.g, b, [&](NodeP bt) { return ctx.g.tri_solve(ctx.g.transpose(m), bt, true); });
  }));
  out.push_back(left("mdivide_left_spd", [](CallContext& ctx, NodeP m, NodeP b) {
    return cholesky_solve(ctx.g, checked_cholesky(ctx, m, "the matrix"), b);
  }));
  out.push_back(right("mdivide_right_spd", [](CallContext& ctx, NodeP m, NodeP b) {
    // b A^-1 = (A^-1 b')' for a symmetric A.
    NodeP l = checked_cholesky(ctx, m, "the matrix");
    return solve_right(ctx.g, b, [&](NodeP bt) { return cholesky_solve(ctx.g, l, bt); });
  }));
  out.push_back({"inverse", signatures("inverse", {{{M}, M}}), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP m = ctx.g.cast_real(a[0].node);
                   require_square(ctx, m, "the matrix");
                   if (m->dims[0] == 0) return {m, M};
                   return {ctx.g.solve(m, identity(ctx.g, m->dims[0])), M};
                 }});
  out.push_back({"inverse_spd", signatures("inverse_spd", {{{M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   NodeP l = checked_cholesky(ctx, a[0].node, "the matrix");
                   if (l->dims[0] == 0) return {l, M};
                   NodeP x = cholesky_solve(g, l, identity(g, l->dims[0]));
                   return {g.mul(g.constant(0.5), g.add(x, g.transpose(x))), M};  // exactly symmetric, as Stan's
                 }});
  out.push_back({"log_determinant_spd", signatures("log_determinant_spd", {{{M}, R}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   NodeP l = checked_cholesky(ctx, a[0].node, "the matrix");
                   if (l->dims[0] == 0) return {g.constant(0), R};
                   return {g.mul(g.constant(2), g.sum(g.unary(Op::Log, diagonal_of(g, l)))), R};
                 }});

  // The symmetric eigendecomposition (one IR op for both: column 0 the values, then the vectors).
  for (bool vectors : {false, true}) {
    std::string name = vectors ? "eigenvectors_sym" : "eigenvalues_sym";
    out.push_back({name, signatures(name, {{{M}, vectors ? M : V}}),
                   [vectors](CallContext& ctx, const std::vector<Value>& a) -> Value {
                     ir::Graph& g = ctx.g;
                     NodeP m = g.cast_real(a[0].node);
                     require_square(ctx, m, "the matrix");
                     int64_t n = m->dims[0];
                     if (n == 0) return {vectors ? m : g.zeros({0}), vectors ? M : V};
                     check_symmetric(ctx, m, "the matrix");
                     NodeP e = g.eigen_sym(m);
                     if (vectors) return {g.slice(e, 1, g.int_constant(1), n), M};
                     return {g.reshape(g.slice(e, 1, g.int_constant(0), 1), {n}), V};
                   }});
  }

  // Diagonals, traces, quadratic forms.
  out.push_back({"diagonal", signatures("diagonal", {{{M}, V}}), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {diagonal_of(ctx.g, ctx.g.cast_real(a[0].node)), V};
                 }});
  out.push_back({"trace", signatures("trace", {{{M}, R}}), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.sum(diagonal_of(ctx.g, ctx.g.cast_real(a[0].node))), R};
                 }});
  out.push_back({"identity_matrix", signatures("identity_matrix", {{{I}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {identity(ctx.g, known_size(ctx, a[0], "size")), M};
                 }});
  out.push_back({"add_diag", signatures("add_diag", {{{M, R}, M}, {{M, V}, M}, {{M, RV}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   NodeP m = g.cast_real(a[0].node), d = g.cast_real(a[1].node);
                   require_square(ctx, m, "the matrix");
                   int64_t n = m->dims[0];
                   if (!d->is_scalar() && d->dims[0] != n)
                     ctx.error("add_diag: the matrix is " + shape(m) + ", but the diagonal has " +
                               std::to_string(d->dims[0]) + " elements");
                   if (n == 0) return {m, M};
                   NodeP on = position_matrix(g, n, n, Op::Eq);
                   NodeP added = d->is_scalar() ? g.fill(d, {n, n}) : g.matmul(g.reshape(d, {n, 1}), g.fill(g.constant(1), {1, n}));
                   return {g.add(m, g.select(on, added, g.constant(0))), M};
                 }});
  out.push_back({"quad_form_diag", signatures("quad_form_diag", {{{M, V}, M}, {{M, RV}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   NodeP m = g.cast_real(a[0].node), v = g.cast_real(a[1].node);
                   require_square(ctx, m, "the matrix");
                   if (v->dims[0] != m->dims[0])
                     ctx.error("quad_form_diag: the matrix is " + shape(m) + ", but the vector has " +
                               std::to_string(v->dims[0]) + " elements");
                   if (v->dims[0] == 0) return {m, M};
                   // diag(v) m diag(v) = m .* (v v')
                   NodeP outer = g.matmul(g.reshape(v, {v->dims[0], 1}), g.reshape(v, {1, v->dims[0]}));
                   return {g.mul(m, outer), M};
                 }});
  for (bool symmetric : {false, true}) {
    std::string name = symmetric ? "quad_form_sym" : "quad_form";
    out.push_back({name, signatures(name, {{{M, M}, M}, {{M, V}, R}}),
                   [symmetric](CallContext& ctx, const std::vector<Value>& a) -> Value {
                     ir::Graph& g = ctx.g;
                     NodeP m = g.cast_real(a[0].node), b = g.cast_real(a[1].node);
                     require_square(ctx, m, "the matrix");
                     if (b->dims[0] != m->dims[0])
                       ctx.error(ctx.name() + ": the matrix is " + shape(m) + ", but the second argument has " +
                                 std::to_string(b->dims[0]) + " rows");
                     if (symmetric) check_symmetric(ctx, m, "the matrix");
                     if (b->dims.size() == 1) {
                       if (b->dims[0] == 0) return {g.constant(0), R};
                       return {g.matmul(b, g.matmul(m, b)), R};
                     }
                     int64_t k = b->dims[1];
                     if (b->dims[0] == 0 || k == 0) return {g.zeros({k, k}), M};
                     NodeP r = g.matmul(g.transpose(b), g.matmul(m, b));
                     if (symmetric) r = g.mul(g.constant(0.5), g.add(r, g.transpose(r)));
                     return {r, M};
                   }});
  }
}

// The matrix division operators: b / A is mdivide_right, A \ b mdivide_left.
Value lower_matrix_division(CallContext& ctx, const Value& x, const Value& y, bool left) {
  const FunctionEntry* f = find_function(left ? "mdivide_left" : "mdivide_right");
  return f->lower(ctx, {x, y});
}

}  // namespace latent::stdlib
