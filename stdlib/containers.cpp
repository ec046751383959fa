// Building and taking apart containers: append_col, append_row, head, tail,
// segment, block, col, row, sub_col, sub_row, cumulative_sum, to_array_1d (one
// entry each, with Stan's signatures; the slices also padded, for lengths known
// only at run time), and the masks of autoregressive layers
// (autoregressive_mask, autoregressive_output_mask: latent's own). They lower to the IR's structural ops
// (slices, padded slices, reshapes, loops), so their derivatives follow.
#include "stdlib/entry_helpers.hpp"
#include "stdlib/library.hpp"

namespace latent::stdlib {

namespace {

using ir::NodeP;
using ir::Op;

const Type R = Type::real(), I = Type::int_(), V = Type::vector(), RV = Type::row_vector(), M = Type::matrix();

// A value as a matrix: a vector is a column, a row_vector a row, a real 1 x 1.
NodeP as_matrix(ir::Graph& g, const Value& v) {
  NodeP x = g.cast_real(v.node);
  if (v.type.is_scalar()) return g.reshape(g.fill(x, {1}), {1, 1});
  if (v.type.base == Base::Vector) return g.reshape(x, {x->dims[0], 1});
  if (v.type.base == Base::RowVector) return g.reshape(x, {1, x->dims[0]});
  return x;
}

// a and b side by side along `axis` (0: stacked rows, 1: columns side by side):
// each padded with zeros to the result's shape, then added.
NodeP concatenate(CallContext& ctx, NodeP a, NodeP b, int axis) {
  ir::Graph& g = ctx.g;
  int other = 1 - axis;
  if (a->dims[other] != b->dims[other])
    ctx.error(ctx.name() + ": the arguments have " + std::to_string(a->dims[other]) + " and " +
              std::to_string(b->dims[other]) + (axis == 1 ? " rows" : " columns"));
  std::vector<int64_t> dims = a->dims;
  dims[axis] += b->dims[axis];
  return g.add(g.pad_slice(dims, axis, g.int_constant(0), a), g.pad_slice(dims, axis, g.int_constant(a->dims[axis]), b));
}

// The Stan axis of a container that head/tail/segment cut: the array's
// outermost dimension (the IR's last axis), or a vector's only one.
int outer_axis(const Value& v) { return v.type.array_dims > 0 ? static_cast<int>(v.node->dims.size()) - 1 : 0; }

// x[start : start + length - 1] along `axis`, `start` 1-based: an error where it
// is known to be out of range, a check (and a clamped read) where it is not.
NodeP checked_slice(CallContext& ctx, NodeP x, int axis, const Value& start, int64_t length) {
  ir::Graph& g = ctx.g;
  int64_t size = x->dims[static_cast<size_t>(axis)];
  if (length > size)
    ctx.error(ctx.name() + ": " + std::to_string(length) + " elements asked for, but the container has " +
              std::to_string(size));
  NodeP first = g.sub(start.node, g.int_constant(1));
  NodeP bad = g.binary(Op::Or, g.binary(Op::Lt, first, g.int_constant(0)),
                       g.binary(Op::Gt, first, g.int_constant(size - length)));
  ctx.check(bad, ctx.name() + ": the slice starting at this index runs outside 1.." + std::to_string(size),
            start.node, "start");
  NodeP clamped = g.binary(Op::Max, g.int_constant(0), g.binary(Op::Min, first, g.int_constant(size - length)));
  return g.slice(x, axis, clamped, length);
}

// Stan's 1-based index into a dimension of `size`, checked (as checked_slice with length 1).
NodeP checked_index(CallContext& ctx, const Value& i, int64_t size) {
  ir::Graph& g = ctx.g;
  NodeP i0 = g.sub(i.node, g.int_constant(1));
  NodeP bad = g.binary(Op::Or, g.binary(Op::Lt, i0, g.int_constant(0)), g.binary(Op::Ge, i0, g.int_constant(size)));
  ctx.check(bad, ctx.name() + ": index out of range; expecting an index in 1.." + std::to_string(size), i.node,
            "index");
  return g.binary(Op::Max, g.int_constant(0), g.binary(Op::Min, i0, g.int_constant(std::max<int64_t>(size - 1, 0))));
}

// head/tail/segment take vectors, row_vectors and one-dimensional arrays of anything.
bool sliceable(const Type& t) {
  return t.is_error() || t.array_dims > 0 || (t.array_dims == 0 && (t.base == Base::Vector || t.base == Base::RowVector));
}

TypeRule slice_rule(const std::string& name, size_t int_args) {
  return [name, int_args](const std::vector<Type>& a, std::string* why) -> Type {
    bool ok = a.size() == 1 + int_args && sliceable(a[0]);
    for (size_t i = 1; ok && i < a.size(); ++i) ok = a[i].is_int() || a[i].is_error();
    if (ok) return a[0];
    *why = name + " takes a vector, row_vector or array and " + std::to_string(int_args) + " int" +
           (int_args > 1 ? "s" : "") + ", got (" + list_types(a) + ")";
    return Type::error();
  };
}

// sub_col(x, i, j, n)'s column j (`axis` 1) or sub_row(x, i, j, n)'s row i (`axis` 0), its index checked.
NodeP matrix_line(CallContext& ctx, const std::vector<Value>& a, int axis) {
  NodeP x = ctx.g.cast_real(a[0].node);
  const Value& at = a[axis == 1 ? 2 : 1];
  return ctx.g.index(x, axis, checked_index(ctx, at, x->dims[static_cast<size_t>(axis)]));
}

// The padded rule of a slice whose length is argument `length_arg`, cutting what
// `cut` returns from the arguments (the container, a column or a row) from the
// 1-based start `start` gives.
PaddedRule padded_rule(size_t length_arg, std::function<NodeP(CallContext&, const std::vector<Value>&)> cut,
                       std::function<NodeP(CallContext&, const std::vector<Value>&, NodeP cut)> start,
                       std::function<Type(const std::vector<Value>&)> type) {
  return [=](CallContext& ctx, const std::vector<Value>& a) -> std::optional<Padded> {
    if (a[length_arg].node->is_const()) return std::nullopt;
    NodeP x = cut(ctx, a);
    return padded_slice(ctx, x, start(ctx, a, x), a[length_arg].node, type(a));
  };
}

// MADE's connectivity (Germain et al. 2015) from the degrees of two layers'
// units: element (i, j) is 1 when unit j may read unit i, that is when
// `may_read(from[i], to[j])`. A matrix[size(from), size(to)], the shape of a
// dense layer's weights.
NodeP degree_mask(ir::Graph& g, NodeP from, NodeP to, Op may_read) {
  NodeP j = g.new_loop_var();
  NodeP column = g.cast_real(g.binary(may_read, from, g.index(to, 0, j)));  // column j (a LoopGen's last axis)
  return g.loop_gen(j, g.int_constant(0), to->dims[0], column);
}

}  // namespace

// A slice with a length known only at run time: element k is x[start + k] for k <
// length, zero after, over x's whole length.
Padded padded_slice(CallContext& ctx, NodeP x, NodeP start, NodeP length, const Type& type) {
  ir::Graph& g = ctx.g;
  if (x->dims.size() != 1)
    ctx.error(ctx.name() + ": a slice whose length changes from one iteration to the next is supported for vectors, "
                           "row_vectors and arrays of numbers only");
  int64_t size = x->dims[0];
  NodeP zero = g.int_constant(0);
  NodeP first = g.sub(start, g.int_constant(1));
  ctx.check(g.binary(Op::Lt, length, zero), ctx.name() + ": the number of elements must be non-negative", length,
            "length");
  NodeP outside = g.binary(Op::Or, g.binary(Op::Lt, first, zero), g.binary(Op::Gt, g.add(first, length), g.int_constant(size)));
  ctx.check(g.binary(Op::And, g.binary(Op::Gt, length, zero), outside),
            ctx.name() + ": the slice runs outside 1.." + std::to_string(size), start, "start");
  if (size == 0) return {x, length, type};
  NodeP k = g.new_loop_var();
  NodeP at = g.binary(Op::Max, zero, g.binary(Op::Min, g.add(first, k), g.int_constant(size - 1)));
  NodeP pad = x->dtype == ir::DType::Int ? zero : g.constant(0);
  NodeP element = g.select(g.binary(Op::Lt, k, length), g.index(x, 0, at), pad);
  return {g.loop_gen(k, zero, size, element), length, type};
}

void register_container_functions(std::vector<FunctionEntry>& out) {
  out.push_back({"append_col",
                 signatures("append_col", {{{M, M}, M}, {{M, V}, M}, {{V, M}, M}, {{V, V}, M}, {{RV, RV}, RV},
                                           {{R, RV}, RV}, {{RV, R}, RV}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP c = concatenate(ctx, as_matrix(ctx.g, a[0]), as_matrix(ctx.g, a[1]), 1);
                   bool row = a[0].type.base != Base::Matrix && a[0].type.base != Base::Vector &&
                              a[1].type.base != Base::Matrix && a[1].type.base != Base::Vector;
                   if (row) return {ctx.g.reshape(c, {c->dims[1]}), RV};
                   return {c, M};
                 }});
  out.push_back({"append_row",
                 signatures("append_row", {{{M, M}, M}, {{M, RV}, M}, {{RV, M}, M}, {{RV, RV}, M}, {{V, V}, V},
                                           {{R, V}, V}, {{V, R}, V}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP c = concatenate(ctx, as_matrix(ctx.g, a[0]), as_matrix(ctx.g, a[1]), 0);
                   bool column = a[0].type.base != Base::Matrix && a[0].type.base != Base::RowVector &&
                                 a[1].type.base != Base::Matrix && a[1].type.base != Base::RowVector;
                   if (column) return {ctx.g.reshape(c, {c->dims[0]}), V};
                   return {c, M};
                 }});
  auto whole = [](CallContext&, const std::vector<Value>& a) { return a[0].node; };
  auto same_type = [](const std::vector<Value>& a) { return a[0].type; };
  out.push_back({"head", slice_rule("head", 1),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   int64_t n = known_size(ctx, a[1], "number of elements");
                   return {checked_slice(ctx, a[0].node, outer_axis(a[0]), {ctx.g.int_constant(1), I}, n), a[0].type};
                 },
                 padded_rule(1, whole, [](CallContext& ctx, auto&, NodeP) { return ctx.g.int_constant(1); }, same_type)});
  out.push_back({"tail", slice_rule("tail", 1), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   int64_t n = known_size(ctx, a[1], "number of elements");
                   int axis = outer_axis(a[0]);
                   int64_t size = a[0].node->dims[static_cast<size_t>(axis)];
                   Value start{ctx.g.int_constant(size - n + 1), I};
                   return {checked_slice(ctx, a[0].node, axis, start, n), a[0].type};
                 },
                 padded_rule(1, whole,
                             [](CallContext& ctx, const std::vector<Value>& a, NodeP x) {
                               return ctx.g.sub(ctx.g.int_constant(x->dims.empty() ? 0 : x->dims[0] + 1), a[1].node);
                             },
                             same_type)});
  out.push_back({"segment", slice_rule("segment", 2), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   int64_t n = known_size(ctx, a[2], "number of elements");
                   return {checked_slice(ctx, a[0].node, outer_axis(a[0]), a[1], n), a[0].type};
                 },
                 padded_rule(2, whole, [](CallContext&, const std::vector<Value>& a, NodeP) { return a[1].node; },
                             same_type)});
  out.push_back({"block", signatures("block", {{{M, I, I, I, I}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   int64_t rows = known_size(ctx, a[3], "number of rows");
                   int64_t cols = known_size(ctx, a[4], "number of columns");
                   NodeP r = checked_slice(ctx, ctx.g.cast_real(a[0].node), 0, a[1], rows);
                   return {checked_slice(ctx, r, 1, a[2], cols), M};
                 }});
  out.push_back({"col", signatures("col", {{{M, I}, V}}), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP x = ctx.g.cast_real(a[0].node);
                   return {ctx.g.index(x, 1, checked_index(ctx, a[1], x->dims[1])), V};
                 }});
  out.push_back({"row", signatures("row", {{{M, I}, RV}}), [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP x = ctx.g.cast_real(a[0].node);
                   return {ctx.g.index(x, 0, checked_index(ctx, a[1], x->dims[0])), RV};
                 }});
  out.push_back({"sub_col", signatures("sub_col", {{{M, I, I, I}, V}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {checked_slice(ctx, matrix_line(ctx, a, 1), 0, a[1], known_size(ctx, a[3], "number of rows")), V};
                 },
                 padded_rule(3, [](CallContext& ctx, const std::vector<Value>& a) { return matrix_line(ctx, a, 1); },
                             [](CallContext&, const std::vector<Value>& a, NodeP) { return a[1].node; },
                             [](const std::vector<Value>&) { return V; })});
  out.push_back({"sub_row", signatures("sub_row", {{{M, I, I, I}, RV}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {checked_slice(ctx, matrix_line(ctx, a, 0), 0, a[2], known_size(ctx, a[3], "number of columns")), RV};
                 },
                 padded_rule(3, [](CallContext& ctx, const std::vector<Value>& a) { return matrix_line(ctx, a, 0); },
                             [](CallContext&, const std::vector<Value>& a, NodeP) { return a[2].node; },
                             [](const std::vector<Value>&) { return RV; })});
  // cumulative_sum: element i is the sum of elements 1..i (a loop whose body sums a growing prefix).
  out.push_back({"cumulative_sum",
                 signatures("cumulative_sum", {{{V}, V}, {{RV}, RV}, {{Type::int_(1)}, Type::int_(1)},
                                               {{Type::real(1)}, Type::real(1)}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   ir::Graph& g = ctx.g;
                   NodeP x = a[0].node;
                   int64_t n = x->dims[0];
                   if (n == 0) return a[0];
                   NodeP i = g.new_loop_var(), j = g.new_loop_var();
                   NodeP prefix = g.loop_sum(j, g.int_constant(0), i, g.index(x, 0, j));
                   return {g.loop_gen(i, g.int_constant(0), n, prefix), a[0].type};
                 }});
  // dims(x): Stan's sizes of x, outermost first: the array's sizes, then rows and columns
  // of a vector (n, 1), row_vector (1, n) or matrix; an empty array stops the list.
  out.push_back({"dims",
                 [](const std::vector<Type>& a, std::string* why) -> Type {
                   bool ok = a.size() == 1 && (a[0].is_error() || a[0].base == Base::Int || a[0].base == Base::Real ||
                                               a[0].base == Base::Vector || a[0].base == Base::RowVector ||
                                               a[0].base == Base::Matrix);
                   if (ok) return Type::int_(1);
                   *why = "dims takes one int, real, vector, row_vector, matrix or array, got (" + list_types(a) + ")";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   const std::vector<int64_t>& d = a[0].node->dims;
                   const Type& t = a[0].type;
                   size_t base_rank = t.base == Base::Matrix ? 2 : t.base == Base::Vector || t.base == Base::RowVector ? 1 : 0;
                   std::vector<int64_t> sizes;
                   bool empty = false;
                   for (int k = 0; k < t.array_dims && !empty; ++k) {  // the IR stores the outermost array axis last
                     sizes.push_back(d[d.size() - 1 - static_cast<size_t>(k)]);
                     empty = sizes.back() == 0;
                   }
                   if (!empty && base_rank == 2) sizes.insert(sizes.end(), {d[0], d[1]});
                   if (!empty && t.base == Base::Vector) sizes.insert(sizes.end(), {d[0], 1});
                   if (!empty && t.base == Base::RowVector) sizes.insert(sizes.end(), {1, d[0]});
                   std::vector<NodeP> elements;
                   for (int64_t n : sizes) elements.push_back(ctx.g.int_constant(n));
                   NodeP r = elements.empty() ? ctx.g.fill(ctx.g.int_constant(0), {0})
                                              : ctx.g.pack(elements, {static_cast<int64_t>(elements.size())});
                   return {r, Type::int_(1)};
                 }});
  // to_array_1d: every element, in storage order (column-major for matrices, row-major for arrays: Stan's orders).
  out.push_back({"to_array_1d",
                 [](const std::vector<Type>& a, std::string* why) -> Type {
                   bool ok = a.size() == 1 && (a[0].is_error() || (!a[0].is_scalar() && a[0].base != Base::Error));
                   if (ok) return a[0].base == Base::Int ? Type::int_(1) : Type::real(1);
                   *why = "to_array_1d takes one container, got (" + list_types(a) + ")";
                   return Type::error();
                 },
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   NodeP x = a[0].node;
                   bool ints = a[0].type.base == Base::Int;
                   return {ctx.g.reshape(x, {x->size()}), ints ? Type::int_(1) : Type::real(1)};
                 }});
  // The masks of a MADE's masked layers (`dense name(in, out, mask)`), from the
  // degrees of the units: an input's degree is its place in the ordering, a
  // hidden unit's the last input it may depend on. Between hidden layers a unit
  // reads the units of degree <= its own; into the outputs strictly less, so
  // that output d never depends on input d or a later one.
  const Type ints = Type::int_(1);
  out.push_back({"autoregressive_mask", signatures("autoregressive_mask", {{{ints, ints}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {degree_mask(ctx.g, a[0].node, a[1].node, Op::Le), M};
                 }});
  out.push_back({"autoregressive_output_mask", signatures("autoregressive_output_mask", {{{ints, ints}, M}}),
                 [](CallContext& ctx, const std::vector<Value>& a) -> Value {
                   return {degree_mask(ctx.g, a[0].node, a[1].node, Op::Lt), M};
                 }});
}

}  // namespace latent::stdlib
