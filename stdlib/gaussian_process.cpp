// Covariance functions of Gaussian processes: gp_exp_quad_cov (Stan's squared
// exponential kernel, alpha^2 exp(-|x_i - x_j|^2 / (2 rho^2))), for points that are
// reals or vectors, of one set (a symmetric matrix) or of two. Built from matrix
// products, so the gradient with respect to the points, alpha and rho follows.
#include "stdlib/entry_helpers.hpp"
#include "stdlib/library.hpp"

namespace latent::stdlib {

namespace {

using ir::NodeP;
using ir::Op;

// The points as the rows of a matrix [n, d]: an array of reals is d = 1; an array
// of vectors is stored with the vector's axis first ([d, n]).
NodeP points_as_rows(ir::Graph& g, const Value& v) {
  NodeP x = g.cast_real(v.node);
  if (v.type.base == Base::Vector) return g.transpose(x);
  return g.reshape(x, {x->dims[0], 1});
}

// |a_i - b_j|^2 for rows a_i of a [n, d] and b_j of b [m, d]: |a_i|^2 + |b_j|^2 - 2 a_i . b_j,
// clamped at 0 (rounding), or exactly (a_i - b_j)^2 for one dimension.
NodeP squared_distances(ir::Graph& g, NodeP a, NodeP b) {
  int64_t n = a->dims[0], m = b->dims[0], d = a->dims[1];
  if (d == 1) {
    NodeP column = g.matmul(a, g.fill(g.constant(1), {1, m}));  // a_i in every column
    NodeP row = g.matmul(g.fill(g.constant(1), {n, 1}), g.transpose(b));
    NodeP diff = g.sub(column, row);
    return g.mul(diff, diff);
  }
  NodeP a2 = g.matmul(g.mul(a, a), g.fill(g.constant(1), {d, 1}));  // [n, 1]
  NodeP b2 = g.matmul(g.mul(b, b), g.fill(g.constant(1), {d, 1}));  // [m, 1]
  NodeP sum = g.add(g.matmul(a2, g.fill(g.constant(1), {1, m})), g.matmul(g.fill(g.constant(1), {n, 1}), g.transpose(b2)));
  NodeP cross = g.matmul(a, g.transpose(b));
  return g.binary(Op::Max, g.constant(0), g.sub(sum, g.mul(g.constant(2), cross)));
}

bool points(const Type& t) {
  return t.is_error() || (t.array_dims == 1 && (t.base == Base::Real || t.base == Base::Int || t.base == Base::Vector));
}
bool scalar(const Type& t) { return t.is_error() || t.is_scalar(); }

}  // namespace

void register_gaussian_process_functions(std::vector<FunctionEntry>& out) {
  out.push_back({"gp_exp_quad_cov",
                 [](const std::vector<Type>& a, std::string* why) -> Type {
                   bool one = a.size() == 3 && points(a[0]) && scalar(a[1]) && scalar(a[2]);
                   bool two = a.size() == 4 && points(a[0]) && points(a[1]) && scalar(a[2]) && scalar(a[3]) &&
                              (a[0].is_error() || a[1].is_error() ||
                               (a[0].base == Base::Vector) == (a[1].base == Base::Vector));
                   if (one || two) return Type::matrix();
                   *why = "no matching signature for gp_exp_quad_cov(" + list_types(a) +
                          "); expected (array[] real x, real alpha, real rho), (array[] vector x, real alpha, real rho) "
                          "or the same with two sets of points x1, x2";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   bool two = a.size() == 4;
                   NodeP x1 = points_as_rows(g, a[0]), x2 = two ? points_as_rows(g, a[1]) : x1;
                   if (x1->dims[1] != x2->dims[1])
                     ctx.error("gp_exp_quad_cov: the points have " + std::to_string(x1->dims[1]) + " and " +
                               std::to_string(x2->dims[1]) + " dimensions");
                   NodeP alpha = g.cast_real(a[two ? 2 : 1].node), rho = g.cast_real(a[two ? 3 : 2].node);
                   for (auto [v, what] : {std::pair{alpha, "magnitude"}, std::pair{rho, "length scale"}}) {
                     NodeP bad = g.unary(Op::Not, g.binary(Op::Gt, v, g.constant(0)));
                     ctx.check(bad, std::string("gp_exp_quad_cov: ") + what + " must be positive", v, what);
                   }
                   if (x1->dims[0] == 0 || x2->dims[0] == 0) return {g.zeros({x1->dims[0], x2->dims[0]}), Type::matrix()};
                   NodeP scaled = g.div(squared_distances(g, x1, x2), g.mul(g.constant(-2), g.mul(rho, rho)));
                   return {g.mul(g.mul(alpha, alpha), g.unary(Op::Exp, scaled)), Type::matrix()};
                 }});
}

}  // namespace latent::stdlib
