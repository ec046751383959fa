// Mathematical functions: one entry each (type rule + lowering). Derivatives
// follow from the IR ops they lower to (compiler/autodiff/reverse.cpp).
#include "stdlib/entry_helpers.hpp"
#include "stdlib/ir_math.hpp"
#include "stdlib/library.hpp"

#include <cmath>

namespace latent::stdlib {

namespace {

using ir::NodeP;
using ir::Op;

bool numeric(const Type& t) {
  return t.base == Base::Int || t.base == Base::Real || t.base == Base::Vector || t.base == Base::RowVector ||
         t.base == Base::Matrix || t.is_error();
}

// f(x) applied to every element: int -> real, containers keep their type.
TypeRule vectorized_unary(std::string name) {
  return [name](const std::vector<Type>& args, std::string* why) -> Type {
    if (args.size() != 1 || !numeric(args[0])) {
      *why = name + " takes one numeric argument (scalar or container), got (" + list_types(args) + ")";
      return Type::error();
    }
    Type t = args[0];
    if (t.base == Base::Int) t.base = Base::Real;
    return t;
  };
}

// f(x, y) elementwise: scalars with scalars, or a container with a scalar or the same container type.
TypeRule vectorized_binary(std::string name) {
  return [name](const std::vector<Type>& args, std::string* why) -> Type {
    auto promote = [](Type t) {
      if (t.base == Base::Int) t.base = Base::Real;
      return t;
    };
    if (args.size() == 2 && numeric(args[0]) && numeric(args[1])) {
      Type a = promote(args[0]), b = promote(args[1]);
      if (a.is_error() || b.is_error()) return Type::real();
      if (a.is_real()) return b;
      if (b.is_real() || a == b) return a;
    }
    *why = name + " takes two numeric arguments (scalars, or a container with a scalar or the same container type), got (" +
           list_types(args) + ")";
    return Type::error();
  };
}

FunctionEntry unary(const std::string& name, std::function<NodeP(ir::Graph&, NodeP)> f) {
  return {name, vectorized_unary(name),
          [f](CallContext& ctx, const std::vector<Value>& a) -> Value {
            return {f(ctx.g, ctx.g.cast_real(a[0].node)), real_like(a[0].type)};
          }};
}

FunctionEntry binary(const std::string& name, std::function<NodeP(ir::Graph&, NodeP, NodeP)> f) {
  return {name, vectorized_binary(name),
          [f](CallContext& ctx, const std::vector<Value>& a) -> Value {
            if (!a[0].node->is_scalar() && !a[1].node->is_scalar() && a[0].node->dims != a[1].node->dims)
              ctx.error(ctx.name() + ": arguments have different sizes");
            Type t = a[0].node->is_scalar() ? real_like(a[1].type) : real_like(a[0].type);
            return {f(ctx.g, ctx.g.cast_real(a[0].node), ctx.g.cast_real(a[1].node)), t};
          }};
}

NodeP log1p_exp(ir::Graph& g, NodeP x) { return g.unary(Op::Log1pExp, x); }

// log(exp(a) + exp(b)) = max + log1p(exp(min - max)), written as a select so that
// each branch is smooth (exact derivatives, including at ties and at -inf).
NodeP log_sum_exp2(ir::Graph& g, NodeP a, NodeP b) {
  return g.select(g.binary(Op::Ge, a, b), g.add(a, log1p_exp(g, g.sub(b, a))), g.add(b, log1p_exp(g, g.sub(a, b))));
}


const Type R = Type::real(), I = Type::int_(), V = Type::vector(), RV = Type::row_vector(), M = Type::matrix();

// ---- neural-network activations ----------------------------------------------------------

// f(x) elementwise on a real (an int promotes), vector, row_vector or matrix: the
// shapes a network layer has (an array, e.g. of ints, is a type error).
FunctionEntry activation(const std::string& name, std::function<NodeP(ir::Graph&, NodeP)> f) {
  return {name, signatures(name, {{{R}, R}, {{V}, V}, {{RV}, RV}, {{M}, M}}),
          [f](CallContext& ctx, const std::vector<Value>& a) -> Value {
            return {f(ctx.g, ctx.g.cast_real(a[0].node)), real_like(a[0].type)};
          }};
}

// max(x, 0) as a select: derivative 1 for x > 0 and 0 otherwise (0 at x = 0, as PyTorch).
NodeP relu(ir::Graph& g, NodeP x) { return g.select(g.binary(Op::Gt, x, g.constant(0)), x, g.constant(0)); }

// x for x > 0, exp(x) - 1 otherwise (alpha = 1). expm1 only ever sees min(x, 0), so
// the branch not taken stays finite and its zero adjoint never meets an infinity.
NodeP elu(ir::Graph& g, NodeP x) {
  NodeP positive = g.binary(Op::Gt, x, g.constant(0));
  return g.select(positive, x, g.unary(Op::Expm1, g.select(positive, g.constant(0), x)));
}

// log_softmax / softmax: vectors and row_vectors as Stan's log_softmax(vector); matrices row by row.
FunctionEntry softmax_entry(const std::string& name, bool log) {
  return {name, signatures(name, {{{V}, V}, {{RV}, RV}, {{M}, M}}),
          [log](CallContext& ctx, const std::vector<Value>& a) -> Value {
            auto& g = ctx.g;
            NodeP x = g.cast_real(a[0].node);
            bool matrix = x->dims.size() == 2;
            int64_t width = matrix ? x->dims[1] : x->dims[0];
            if (!matrix && width == 0) ctx.error(ctx.name() + ": the argument has size 0, but must have a non-zero size");
            if (matrix && width == 0 && x->dims[0] > 0)
              ctx.error(ctx.name() + ": the matrix has 0 columns, but each row must have a non-zero size");
            NodeP r = matrix ? log_softmax_rows(g, x) : log_softmax_vector(g, x);
            return {log ? r : g.unary(Op::Exp, r), a[0].type};
          }};
}

}  // namespace

void register_functions(std::vector<FunctionEntry>& out) {
  auto op1 = [](Op op) { return [op](ir::Graph& g, NodeP x) { return g.unary(op, x); }; };
  // The elementwise ops of the IR that are functions of the language (ops.def: STAN_FUNCTION).
#define STAN_FUNCTION true
#define INTERNAL false
#define UNARY(name, printed, result, fold, derivative, emit, language) \
  if (language) out.push_back(unary(printed, op1(Op::name)));
#include "compiler/ir/ops.def"
#undef STAN_FUNCTION
#undef INTERNAL
  out.push_back(unary("fabs", op1(Op::Abs)));
  out.push_back(unary("square", [](ir::Graph& g, NodeP x) { return g.mul(x, x); }));
  out.push_back(unary("inv", [](ir::Graph& g, NodeP x) { return g.div(g.constant(1), x); }));
  out.push_back(unary("inv_sqrt", [](ir::Graph& g, NodeP x) { return g.div(g.constant(1), g.unary(Op::Sqrt, x)); }));
  out.push_back(unary("log10", [](ir::Graph& g, NodeP x) { return g.div(g.unary(Op::Log, x), g.constant(M_LN10)); }));
  out.push_back(unary("log2", [](ir::Graph& g, NodeP x) { return g.div(g.unary(Op::Log, x), g.constant(M_LN2)); }));
  out.push_back(unary("log1m", [](ir::Graph& g, NodeP x) { return g.unary(Op::Log1p, g.neg(x)); }));
  out.push_back(unary("logit", [](ir::Graph& g, NodeP x) {
    return g.sub(g.unary(Op::Log, x), g.unary(Op::Log1p, g.neg(x)));
  }));
  // Phi(x) = erfc(-x / sqrt 2) / 2; Phi_approx is Stan's logistic approximation.
  out.push_back(unary("Phi", [](ir::Graph& g, NodeP x) {
    return g.mul(g.constant(0.5), g.unary(Op::Erfc, g.mul(g.constant(-M_SQRT1_2), x)));
  }));
  out.push_back(unary("Phi_approx", [](ir::Graph& g, NodeP x) {
    return g.unary(Op::InvLogit, g.add(g.mul(g.constant(0.07056), g.mul(x, g.mul(x, x))), g.mul(g.constant(1.5976), x)));
  }));
  out.push_back(unary("log1m_exp", [](ir::Graph& g, NodeP x) { return log1m_exp(g, x); }));
  out.push_back(binary("log_diff_exp", [](ir::Graph& g, NodeP x, NodeP y) { return log_diff_exp(g, x, y); }));
  out.push_back(unary("log_inv_logit", [](ir::Graph& g, NodeP x) { return g.neg(log1p_exp(g, g.neg(x))); }));
  out.push_back(unary("log1m_inv_logit", [](ir::Graph& g, NodeP x) { return g.neg(log1p_exp(g, x)); }));

  // Activations of neural networks (elementwise; tanh above also takes every shape).
  out.push_back(activation("relu", relu));
  out.push_back(activation("sigmoid", op1(Op::InvLogit)));
  out.push_back(activation("softplus", op1(Op::Log1pExp)));
  out.push_back(activation("elu", elu));
  out.push_back(softmax_entry("log_softmax", true));
  out.push_back(softmax_entry("softmax", false));

  // abs keeps ints as ints.
  TypeRule keeps_int = [](const std::vector<Type>& a, std::string* why) -> Type {
    if (a.size() == 1 && numeric(a[0])) return a[0];
    *why = "abs takes one numeric argument, got (" + list_types(a) + ")";
    return Type::error();
  };
  out.push_back({"abs", keeps_int, [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.unary(Op::Abs, a[0].node), a[0].type};
                 }});

  out.push_back(binary("pow", [](ir::Graph& g, NodeP x, NodeP y) { return g.binary(Op::Pow, x, y); }));
  out.push_back(binary("fmin", [](ir::Graph& g, NodeP x, NodeP y) { return g.binary(Op::Min, x, y); }));
  out.push_back(binary("fmax", [](ir::Graph& g, NodeP x, NodeP y) { return g.binary(Op::Max, x, y); }));

  // log_sum_exp(a, b) and log_sum_exp(container)
  out.push_back({"log_sum_exp",
                 [](const std::vector<Type>& a, std::string* why) -> Type {
                   if (a.size() == 2 && (a[0].is_scalar() || a[0].is_error()) && (a[1].is_scalar() || a[1].is_error()))
                     return R;
                   if (a.size() == 1 && numeric(a[0]) && !a[0].is_scalar()) return R;
                   *why = "log_sum_exp takes two scalars or one container, got (" + list_types(a) + ")";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   if (a.size() == 2) return {log_sum_exp2(g, g.cast_real(a[0].node), g.cast_real(a[1].node)), R};
                   return {log_sum_exp_all(g, g.cast_real(a[0].node)), R};
                 }});

  out.push_back({"log_mix", signatures("log_mix", {{{R, R, R}, R}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP theta = g.cast_real(a[0].node);
                   ctx.check(g.unary(Op::Not, g.binary(Op::And, g.binary(Op::Ge, theta, g.constant(0)),
                                                        g.binary(Op::Le, theta, g.constant(1)))),
                             "log_mix: mixing proportion theta must be in [0, 1]", theta, "theta");
                   NodeP x = g.add(g.unary(Op::Log, theta), g.cast_real(a[1].node));
                   NodeP y = g.add(g.unary(Op::Log1p, g.neg(theta)), g.cast_real(a[2].node));
                   return {log_sum_exp2(g, x, y), R};
                 }});

  // Reductions
  auto container_to_scalar = [](std::string name) {
    return [name](const std::vector<Type>& a, std::string* why) -> Type {
      if (a.size() == 1 && numeric(a[0])) return a[0].base == Base::Int ? I : R;
      *why = name + " takes one numeric container, got (" + list_types(a) + ")";
      return Type::error();
    };
  };
  out.push_back({"sum", container_to_scalar("sum"),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.sum(a[0].node), a[0].type.base == Base::Int ? I : R};
                 },
                 nullptr,
                 [](CallContext& ctx, const std::vector<Padded>& a) -> Value {  // zeros add nothing
                   return {ctx.g.sum(a[0].values), a[0].type.base == Base::Int ? I : R};
                 }});
  out.push_back({"mean", [](const std::vector<Type>& a, std::string* why) -> Type {
                   if (a.size() == 1 && numeric(a[0]) && !a[0].is_scalar()) return R;
                   *why = "mean takes one numeric container, got (" + list_types(a) + ")";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   if (a[0].node->size() == 0) ctx.error("mean of an empty container");
                   return {ctx.g.div(ctx.g.sum(ctx.g.cast_real(a[0].node)),
                                     ctx.g.constant(static_cast<double>(a[0].node->size()))), R};
                 }});
  for (const char* name : {"max", "min"}) {
    bool is_max = std::string(name) == "max";
    out.push_back({name,
                   [name](const std::vector<Type>& a, std::string* why) -> Type {
                     if (a.size() == 2 && (a[0].is_scalar() || a[0].is_error()) && (a[1].is_scalar() || a[1].is_error()))
                       return a[0].is_int() && a[1].is_int() ? I : R;
                     if (a.size() == 1 && numeric(a[0]) && !a[0].is_scalar()) return a[0].base == Base::Int ? I : R;
                     *why = std::string(name) + " takes two scalars or one container, got (" + list_types(a) + ")";
                     return Type::error();
                   },
                   [is_max](CallContext& ctx, const std::vector<Value>& a) -> Value {
                     auto& g = ctx.g;
                     if (a.size() == 2) {
                       Type t = a[0].type.is_int() && a[1].type.is_int() ? I : R;
                       return {g.binary(is_max ? Op::Max : Op::Min, a[0].node, a[1].node), t};
                     }
                     if (a[0].node->size() == 0 && a[0].type.base == Base::Int)
                       ctx.error(ctx.name() + " of an empty container of ints");  // Stan: an error (no int infinity)
                     NodeP x = a[0].node;
                     if (!a[0].node->depends_on_params) {
                       NodeP r = is_max ? g.max_reduce(x) : g.neg(g.max_reduce(g.neg(x)));
                       return {r, a[0].type.base == Base::Int ? I : R};
                     }
                     // Of parameters: the value is the extreme element; its gradient goes to
                     // that element (shared equally between ties), as Stan's.
                     NodeP signed_x = is_max ? x : g.neg(x);
                     NodeP m = g.unary(Op::StopGradient, g.max_reduce(signed_x));
                     NodeP is_extreme = g.binary(Op::Eq, signed_x, m);
                     NodeP ties = g.sum(g.cast_real(is_extreme));
                     NodeP moving = g.sub(signed_x, g.unary(Op::StopGradient, signed_x));  // 0, with gradient 1
                     NodeP r = g.add(m, g.div(g.sum(g.select(is_extreme, moving, g.constant(0))), ties));
                     return {is_max ? r : g.neg(r), R};
                   }});
  }

  // prod of reals: sign and exp(sum(log|x|)), 0 when an element is 0 (its gradient
  // there is taken as 0: Stan's is the product of the others).
  out.push_back({"prod",
                 [](const std::vector<Type>& a, std::string* why) -> Type {
                   if (a.size() == 1 && numeric(a[0]) && a[0].base != Base::Int) return R;
                   *why = "prod takes one container of reals (vector, row_vector, matrix or array of reals), got (" +
                          list_types(a) + ")";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP x = g.cast_real(a[0].node);
                   if (x->is_scalar()) return {x, R};
                   if (x->size() == 0) return {g.constant(1), R};
                   NodeP zero = g.constant(0);
                   NodeP any_zero = g.binary(Op::Gt, g.sum(g.cast_real(g.binary(Op::Eq, x, zero))), zero);
                   NodeP negatives = g.sum(g.cast_real(g.binary(Op::Lt, x, zero)));
                   // (-1)^negatives: 1 - 2 * (negatives mod 2), the parity from floor.
                   NodeP half = g.mul(negatives, g.constant(0.5));
                   NodeP odd = g.sub(half, g.unary(Op::Floor, half));
                   NodeP sign = g.sub(g.constant(1), g.mul(g.constant(4), odd));
                   NodeP safe = g.select(g.binary(Op::Eq, x, zero), g.constant(1), g.unary(Op::Abs, x));
                   NodeP magnitude = g.unary(Op::Exp, g.sum(g.unary(Op::Log, safe)));
                   return {g.select(any_zero, zero, g.mul(sign, magnitude)), R};
                 }});
  // variance and sd: the sample statistics (divisor n - 1), 0 for one element, as Stan's.
  for (const char* name : {"variance", "sd"}) {
    bool is_sd = std::string(name) == "sd";
    out.push_back({name,
                   [name](const std::vector<Type>& a, std::string* why) -> Type {
                     if (a.size() == 1 && numeric(a[0]) && !a[0].is_scalar()) return R;
                     *why = std::string(name) + " takes one numeric container, got (" + list_types(a) + ")";
                     return Type::error();
                   },
                   [is_sd](CallContext& ctx, const std::vector<Value>& a) -> Value {
                     auto& g = ctx.g;
                     NodeP x = g.cast_real(a[0].node);
                     int64_t n = x->size();
                     if (n == 0) ctx.error(ctx.name() + " of an empty container");
                     if (n == 1) return {g.constant(0), R};
                     NodeP deviation = g.sub(x, g.div(g.sum(x), g.constant(static_cast<double>(n))));
                     NodeP v = g.div(g.sum(g.mul(deviation, deviation)), g.constant(static_cast<double>(n - 1)));
                     return {is_sd ? g.unary(Op::Sqrt, v) : v, R};
                   }});
  }

  // Linear algebra
  // Diagonal matrices: diag(v) as a matrix, and diag(v) * M, M * diag(v) without forming it.
  out.push_back({"diag_matrix", signatures("diag_matrix", {{{V}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP v = g.cast_real(a[0].node);
                   int64_t k = v->dims[0];
                   if (k == 0) return {g.zeros({0, 0}), M};
                   std::vector<NodeP> rows;
                   for (int64_t i = 1; i <= k; ++i) rows.push_back(g.int_constant(i));
                   NodeP identity = one_hot_rows(g, g.pack(rows, {k}), k);
                   return {g.mul(across_columns(g, v, k), identity), M};
                 }});
  out.push_back({"diag_pre_multiply", signatures("diag_pre_multiply", {{{V, M}, M}, {{RV, M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP v = g.cast_real(a[0].node), m = g.cast_real(a[1].node);
                   if (v->dims[0] != m->dims[0])
                     ctx.error("diag_pre_multiply: the vector has " + std::to_string(v->dims[0]) + " elements, the matrix " +
                               std::to_string(m->dims[0]) + " rows");
                   return {g.mul(across_columns(g, v, m->dims[1]), m), M};
                 }});
  out.push_back({"diag_post_multiply", signatures("diag_post_multiply", {{{M, V}, M}, {{M, RV}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP m = g.cast_real(a[0].node), v = g.cast_real(a[1].node);
                   if (v->dims[0] != m->dims[1])
                     ctx.error("diag_post_multiply: the vector has " + std::to_string(v->dims[0]) + " elements, the matrix " +
                               std::to_string(m->dims[1]) + " columns");
                   return {g.mul(m, g.transpose(across_columns(g, v, m->dims[0]))), M};
                 }});
  out.push_back({"dot_self", signatures("dot_self", {{{V}, R}, {{RV}, R}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP x = ctx.g.cast_real(a[0].node);
                   return {ctx.g.sum(ctx.g.mul(x, x)), R};
                 },
                 nullptr,
                 [](CallContext& ctx, const std::vector<Padded>& a) -> Value {
                   NodeP x = ctx.g.cast_real(a[0].values);
                   return {ctx.g.sum(ctx.g.mul(x, x)), R};
                 }});
  out.push_back({"dot_product",
                 signatures("dot_product", {{{V, V}, R}, {{RV, RV}, R}, {{V, RV}, R}, {{RV, V}, R},
                                            {{Type::real(1), Type::real(1)}, R}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   if (a[0].node->dims != a[1].node->dims)
                     ctx.error("dot_product: arguments have different sizes (" + std::to_string(a[0].node->size()) +
                               " and " + std::to_string(a[1].node->size()) + ")");
                   return {ctx.g.matmul(a[0].node, a[1].node), R};
                 },
                 nullptr,
                 // Lengths known only at run time: checked equal; the products past
                 // them are zero, over the shorter of the two paddings.
                 [](CallContext& ctx, const std::vector<Padded>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   std::string second = a[1].length->is_const()
                                            ? " (the second has " + std::to_string(static_cast<int64_t>(a[1].length->value)) + " elements)"
                                            : "";
                   ctx.check(g.binary(Op::Ne, a[0].length, a[1].length),
                             "dot_product: arguments have different sizes" + second, a[0].length, "size of the first");
                   int64_t n = std::min(a[0].values->dims[0], a[1].values->dims[0]);
                   auto first_n = [&](NodeP x) {
                     x = g.cast_real(x);
                     return x->dims[0] == n ? x : g.slice(x, 0, g.int_constant(0), n);
                   };
                   return {g.matmul(first_n(a[0].values), first_n(a[1].values)), R};
                 }});
  auto rows_cols_dot = [](bool rows) {
    return [rows](CallContext& ctx, const std::vector<Value>& a) -> Value {
      auto& g = ctx.g;
      if (a[0].node->dims != a[1].node->dims) ctx.error(ctx.name() + ": arguments have different sizes");
      NodeP prod = g.mul(a[0].node, a[1].node);
      if (prod->dims.size() == 1) return {prod, a[0].type};  // vectors: elementwise products
      int64_t m = prod->dims[0], n = prod->dims[1];
      if (rows) return {g.matmul(prod, g.fill(g.constant(1), {n})), V};
      return {g.matmul(g.fill(g.constant(1), {m}), prod), RV};
    };
  };
  out.push_back({"rows_dot_product", signatures("rows_dot_product", {{{M, M}, V}, {{V, V}, V}, {{RV, RV}, V}}),
                 rows_cols_dot(true)});
  out.push_back({"columns_dot_product",
                 signatures("columns_dot_product", {{{M, M}, RV}, {{V, V}, RV}, {{RV, RV}, RV}}), rows_cols_dot(false)});
  out.push_back({"multiply",
                 signatures("multiply", {{{R, R}, R}, {{M, V}, V}, {{RV, M}, RV}, {{RV, V}, R}, {{M, M}, M},
                                         {{V, RV}, M}, {{R, V}, V}, {{V, R}, V}, {{R, RV}, RV}, {{RV, R}, RV},
                                         {{R, M}, M}, {{M, R}, M}}),
                 nullptr});  // lowered like the * operator (compiler/lower)
  out.push_back({"transpose", signatures("transpose", {{{V}, RV}, {{RV}, V}, {{M}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   Type t = a[0].type.base == Base::Vector ? RV : a[0].type.base == Base::RowVector ? V : M;
                   return {ctx.g.transpose(a[0].node), t};
                 }});
  out.push_back({"to_vector",
                 signatures("to_vector", {{{V}, V}, {{RV}, V}, {{M}, V}, {{Type::real(1)}, V}, {{Type::int_(1)}, V}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.reshape(ctx.g.cast_real(a[0].node), {a[0].node->size()}), V};
                 }});
  // Stan's to_matrix: the elements in column-major order, as rows x columns.
  out.push_back({"to_matrix",
                 signatures("to_matrix", {{{M}, M}, {{V}, M}, {{RV}, M}, {{M, I, I}, M}, {{V, I, I}, M}, {{RV, I, I}, M},
                                          {{Type::real(1), I, I}, M}, {{Type::int_(1), I, I}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP x = g.cast_real(a[0].node);
                   if (a.size() == 1) {
                     if (a[0].type.base == Base::Vector) return {g.reshape(x, {x->size(), 1}), M};
                     if (a[0].type.base == Base::RowVector) return {g.reshape(x, {1, x->size()}), M};
                     return {x, M};
                   }
                   int64_t m = known_size(ctx, a[1], "number of rows"), n = known_size(ctx, a[2], "number of columns");
                   if (m * n != x->size())
                     ctx.error("to_matrix: " + std::to_string(m) + " x " + std::to_string(n) + " = " +
                               std::to_string(m * n) + " elements, but the argument has " + std::to_string(x->size()));
                   return {g.reshape(x, {m, n}), M};
                 }});
  out.push_back({"to_row_vector",
                 signatures("to_row_vector", {{{V}, RV}, {{RV}, RV}, {{M}, RV}, {{Type::real(1)}, RV}, {{Type::int_(1)}, RV}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.reshape(ctx.g.cast_real(a[0].node), {a[0].node->size()}), RV};
                 }});
  out.push_back({"rep_vector", signatures("rep_vector", {{{R, I}, V}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.fill(ctx.g.cast_real(a[0].node), {known_size(ctx, a[1], "length")}), V};
                 }});
  out.push_back({"rep_row_vector", signatures("rep_row_vector", {{{R, I}, RV}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.fill(ctx.g.cast_real(a[0].node), {known_size(ctx, a[1], "length")}), RV};
                 }});
  out.push_back({"rep_matrix", signatures("rep_matrix", {{{R, I, I}, M}, {{V, I}, M}, {{RV, I}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   auto& g = ctx.g;
                   NodeP x = g.cast_real(a[0].node);
                   if (a.size() == 3)
                     return {g.fill(x, {known_size(ctx, a[1], "number of rows"),
                                        known_size(ctx, a[2], "number of columns")}),
                             M};
                   // A vector repeated as n columns, or a row_vector as m rows: an outer product with ones.
                   int64_t len = x->dims[0];
                   if (a[0].type.base == Base::Vector) {
                     int64_t n = known_size(ctx, a[1], "number of columns");
                     return {g.matmul(g.reshape(x, {len, 1}), g.fill(g.constant(1), {1, n})), M};
                   }
                   int64_t m = known_size(ctx, a[1], "number of rows");
                   return {g.matmul(g.fill(g.constant(1), {m, 1}), g.reshape(x, {1, len})), M};
                 }});
  out.push_back({"rep_array",
                 [](const std::vector<Type>& a, std::string* why) -> Type {
                   bool sizes_ok = a.size() >= 2 && a.size() <= 4;
                   for (size_t i = 1; sizes_ok && i < a.size(); ++i) sizes_ok = a[i].is_int() || a[i].is_error();
                   if (sizes_ok && (a[0].is_scalar() || a[0].is_error()))
                     return Type{a[0].base == Base::Int ? Base::Int : Base::Real, static_cast<int>(a.size()) - 1};
                   *why = "rep_array takes a scalar and one to three int sizes, got (" + list_types(a) + ")";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   std::vector<int64_t> dims;
                   for (size_t i = a.size() - 1; i >= 1; --i) dims.push_back(known_size(ctx, a[i], "size"));
                   Type t{a[0].type.base == Base::Int ? Base::Int : Base::Real, static_cast<int>(a.size()) - 1};
                   return {ctx.g.fill(a[0].node, dims), t};
                 }});
  auto size_rule = [](std::string name) {
    return [name](const std::vector<Type>& a, std::string* why) -> Type {
      if (a.size() == 1 && (a[0].array_dims > 0 || a[0].is_linear_algebra() || a[0].is_error())) return I;
      *why = name + " takes one container, got (" + list_types(a) + ")";
      return Type::error();
    };
  };
  out.push_back({"size", size_rule("size"), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   const auto& d = a[0].node->dims;
                   // Stan's size: the outermost dimension of an array, the element count otherwise.
                   int64_t n = a[0].type.array_dims > 0 ? d.back() : a[0].node->size();
                   return {ctx.g.int_constant(n), I};
                 }});
  out.push_back({"num_elements", size_rule("num_elements"), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {ctx.g.int_constant(a[0].node->size()), I};
                 }});
  out.push_back({"rows", signatures("rows", {{{V}, I}, {{RV}, I}, {{M}, I}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   int64_t n = a[0].type.base == Base::RowVector ? 1 : a[0].node->dims[0];
                   return {ctx.g.int_constant(n), I};
                 }});
  out.push_back({"cols", signatures("cols", {{{V}, I}, {{RV}, I}, {{M}, I}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   int64_t n = a[0].type.base == Base::Vector ? 1
                               : a[0].type.base == Base::RowVector ? a[0].node->dims[0]
                                                                   : a[0].node->dims[1];
                   return {ctx.g.int_constant(n), I};
                 }});
  out.push_back({"pi", signatures("pi", {{{}, R}}),
                 [](CallContext& ctx, const std::vector<Value>&) -> Value { return {ctx.g.constant(M_PI), R}; }});
  out.push_back({"e", signatures("e", {{{}, R}}),
                 [](CallContext& ctx, const std::vector<Value>&) -> Value { return {ctx.g.constant(M_E), R}; }});
  out.push_back({"sqrt2", signatures("sqrt2", {{{}, R}}),
                 [](CallContext& ctx, const std::vector<Value>&) -> Value { return {ctx.g.constant(M_SQRT2), R}; }});
  out.push_back({"not_a_number", signatures("not_a_number", {{{}, R}}),
                 [](CallContext& ctx, const std::vector<Value>&) -> Value { return {ctx.g.constant(NAN), R}; }});
  out.push_back({"positive_infinity", signatures("positive_infinity", {{{}, R}}),
                 [](CallContext& ctx, const std::vector<Value>&) -> Value { return {ctx.g.constant(INFINITY), R}; }});
  out.push_back({"negative_infinity", signatures("negative_infinity", {{{}, R}}),
                 [](CallContext& ctx, const std::vector<Value>&) -> Value { return {ctx.g.constant(-INFINITY), R}; }});
}

}  // namespace latent::stdlib
