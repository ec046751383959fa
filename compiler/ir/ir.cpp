#include "compiler/ir/ir.hpp"

#include <limits>

#include "kernels/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

namespace latent::ir {

namespace {

[[noreturn]] void internal(const std::string& what) {
  throw std::logic_error("internal IR error: " + what);
}

std::vector<int> merge_loops(const std::vector<int>& a, const std::vector<int>& b) {
  std::vector<int> out;
  std::set_union(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool is_comparison(Op op) {
  switch (op) {
#define COMPARISON true
#define ARITHMETIC false
#define REAL_RESULT false
#define INTEGER false
#define BINARY(name, printed, result, fold, dx, dy, emit) \
  case Op::name: return result;
#include "compiler/ir/ops.def"
#undef COMPARISON
#undef ARITHMETIC
#undef REAL_RESULT
#undef INTEGER
    default: return false;
  }
}

// Result of a binary elementwise op: equal dims, or one operand scalar.
std::vector<int64_t> broadcast_dims(NodeP x, NodeP y) {
  if (x->is_scalar()) return y->dims;
  if (y->is_scalar()) return x->dims;
  if (x->dims != y->dims) internal("elementwise operands of different shapes");
  return x->dims;
}

// The dtype of a unary op's result (RESULT column of ops.def).
DType unary_dtype(Op op, DType argument) {
  constexpr DType REAL_RESULT = DType::Real, INT_RESULT = DType::Int;
  switch (op) {
#define SAME_AS_ARGUMENT argument
#define UNARY(name, printed, result, fold, derivative, emit, language) \
  case Op::name: return result;
#include "compiler/ir/ops.def"
#undef SAME_AS_ARGUMENT
    default: internal("unary_dtype of a non-unary op");
  }
}

// The dtype of a binary op's result (RESULT column of ops.def).
DType binary_dtype(Op op, DType x, DType y) {
  const DType ARITHMETIC = x == DType::Int && y == DType::Int ? DType::Int : DType::Real;
  constexpr DType REAL_RESULT = DType::Real, COMPARISON = DType::Int, INTEGER = DType::Int;
  switch (op) {
#define BINARY(name, printed, result, fold, dx, dy, emit) \
  case Op::name: return result;
#include "compiler/ir/ops.def"
    default: internal("binary_dtype of a non-binary op");
  }
}

double fold_unary(Op op, double x) {
  switch (op) {
#define UNARY(name, printed, result, fold, derivative, emit, language) \
  case Op::name: return fold;
#include "compiler/ir/ops.def"
    default: internal("fold_unary of a non-unary op");
  }
}

// Integer division and modulus as generated code computes them (codegen.cpp):
// truncating, wrapping at the int64 minimum divided by -1. A zero divisor is
// never folded (lowering reports it; at run time a check does).
double int_divide(double x, double y) {
  auto a = static_cast<int64_t>(x), b = static_cast<int64_t>(y);
  if (b == -1) return static_cast<double>(static_cast<int64_t>(0ull - static_cast<uint64_t>(a)));
  return static_cast<double>(a / b);
}
double int_modulus(double x, double y) {
  auto a = static_cast<int64_t>(x), b = static_cast<int64_t>(y);
  return b == -1 ? 0.0 : static_cast<double>(a % b);
}

double fold_binary(Op op, double x, double y) {
  switch (op) {
#define BINARY(name, printed, result, fold, dx, dy, emit) \
  case Op::name: return fold;
#include "compiler/ir/ops.def"
    default: internal("fold_binary of a non-binary op");
  }
}

}  // namespace

const char* op_name(Op op) {
  switch (op) {
#define OP(name, printed) \
  case Op::name: return printed;
#include "compiler/ir/ops.def"
  }
  return "?";
}

bool is_unary(Op op) {
  switch (op) {
#define UNARY(name, printed, result, fold, derivative, emit, language) \
  case Op::name: return true;
#include "compiler/ir/ops.def"
    default: return false;
  }
}

bool is_binary(Op op) {
  switch (op) {
#define BINARY(name, printed, result, fold, dx, dy, emit) \
  case Op::name: return true;
#include "compiler/ir/ops.def"
    default: return false;
  }
}

bool is_elementwise(Op op) { return is_unary(op) || is_binary(op) || op == Op::Select; }

int64_t Node::size() const {
  int64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

bool Node::depends_on_loop(int loop) const {
  return std::binary_search(free_loops.begin(), free_loops.end(), loop);
}

// ---- interning -------------------------------------------------------------------

size_t Graph::KeyHash::operator()(const Node* n) const {
  size_t h = static_cast<size_t>(n->op) * 1000003u ^ static_cast<size_t>(n->dtype);
  auto mix = [&h](size_t v) { h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2); };
  for (auto d : n->dims) mix(static_cast<size_t>(d));
  for (auto a : n->args) mix(reinterpret_cast<size_t>(a));
  uint64_t bits;
  std::memcpy(&bits, &n->value, sizeof bits);
  mix(bits);
  mix(static_cast<size_t>(n->a));
  mix(static_cast<size_t>(n->b));
  return h;
}

bool Graph::KeyEq::operator()(const Node* x, const Node* y) const {
  return x->op == y->op && x->dtype == y->dtype && x->dims == y->dims && x->args == y->args &&
         std::memcmp(&x->value, &y->value, sizeof(double)) == 0 && x->a == y->a && x->b == y->b;
}

Graph::Graph() = default;

int64_t element_count(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d <= 0) return 0;
    if (n > std::numeric_limits<int64_t>::max() / d) return std::numeric_limits<int64_t>::max();
    n *= d;
  }
  return n;
}

NodeP Graph::intern(Node n) {
  auto it = interned_.find(&n);
  if (it != interned_.end()) return it->second;
  if (n.dims.size() > 0 && element_count(n.dims) > kMaxElements) {
    std::string dims;
    for (int64_t d : n.dims) dims += (dims.empty() ? "" : " x ") + std::to_string(d);
    throw TooLarge("a value of " + dims + " elements is larger than the limit of " + std::to_string(kMaxElements) +
                   " (2^28) elements");
  }
  n.id = static_cast<int>(nodes_.size());
  for (NodeP a : n.args) {
    n.free_loops = merge_loops(n.free_loops, a->free_loops);
    n.depends_on_params |= a->depends_on_params;
    n.reads_unknowns |= a->reads_unknowns;
    n.is_effect |= a->is_effect;
  }
  if (n.op == Op::LoopVar) n.free_loops = {static_cast<int>(n.a)};
  if (n.op == Op::ScanState) {
    n.free_loops = {static_cast<int>(n.a)};
    n.depends_on_params = true;
    n.reads_unknowns = true;
  }
  if (n.op == Op::LoopSum || n.op == Op::LoopGen || n.op == Op::Scan || n.op == Op::ScanLast) {
    auto& f = n.free_loops;
    f.erase(std::remove(f.begin(), f.end(), static_cast<int>(n.a)), f.end());
  }
  if (n.op == Op::ScanLast) {  // its state reads data alone (scan_last checked it): so does it
    n.depends_on_params = false;
    n.reads_unknowns = n.args[1]->reads_unknowns;
  }
  if (n.op == Op::Input && n.a == 0) n.depends_on_params = true;
  if (n.op == Op::Input && n.a != 1) n.reads_unknowns = true;
  if (n.op == Op::Check || n.op == Op::Print || n.op == Op::Random) n.is_effect = true;
  if (n.op == Op::Random) n.reads_unknowns = true;
  if (n.reads_unknowns) {
    ++runtime_nodes_;
    runtime_elements_ += n.size();
  }
  nodes_.push_back(std::move(n));
  NodeP p = &nodes_.back();
  interned_.emplace(p, p);
  return p;
}

// ---- leaves ----------------------------------------------------------------------

NodeP Graph::constant(double v) {
  Node n{Op::Const, DType::Real, {}, {}};
  n.value = v;
  return intern(std::move(n));
}

NodeP Graph::int_constant(int64_t v) {
  Node n{Op::Const, DType::Int, {}, {}};
  n.value = static_cast<double>(v);
  return intern(std::move(n));
}

NodeP Graph::input(int buffer, int64_t offset, std::vector<int64_t> dims, DType dtype) {
  Node n{Op::Input, dtype, std::move(dims), {}};
  n.a = buffer;
  n.b = offset;
  return intern(std::move(n));
}

NodeP Graph::new_loop_var() {
  Node n{Op::LoopVar, DType::Int, {}, {}};
  n.a = next_loop_++;
  return intern(std::move(n));
}

NodeP Graph::loop_var(int loop_id) {
  Node n{Op::LoopVar, DType::Int, {}, {}};
  n.a = loop_id;
  return intern(std::move(n));
}

// ---- elementwise -----------------------------------------------------------------

NodeP Graph::cast_real(NodeP x) {
  if (x->dtype == DType::Real) return x;
  if (x->is_const()) return constant(x->value);
  Node n{Op::CastReal, DType::Real, x->dims, {x}};
  return intern(std::move(n));
}

NodeP Graph::unary(Op op, NodeP x) {
  if (!is_unary(op)) internal("unary() with a non-unary op");
  if (op == Op::CastReal) return cast_real(x);
  DType dt = unary_dtype(op, x->dtype);
  if (x->is_const()) {
    double v = fold_unary(op, x->value);
    return dt == DType::Int ? int_constant(static_cast<int64_t>(v)) : constant(v);
  }
  if (x->op == Op::Fill) return fill(unary(op, x->args[0]), x->dims);
  if (op == Op::Neg && x->op == Op::Neg) return x->args[0];
  // Only data-only values lose their stop_gradient: a value of other inputs (network
  // weights, noise, draws) may become a function of the parameters when a method's
  // objective substitutes them (SVI replaces the weights by slices of phi).
  if (op == Op::StopGradient && !x->reads_unknowns) return x;
  if (dt == DType::Real) x = cast_real(x);
  Node n{op, dt, x->dims, {x}};
  return intern(std::move(n));
}

NodeP Graph::binary(Op op, NodeP x, NodeP y) {
  if (!is_binary(op)) internal("binary() with a non-binary op");
  DType dt = binary_dtype(op, x->dtype, y->dtype);
  std::vector<int64_t> dims = broadcast_dims(x, y);
  bool zero_divisor = (op == Op::IntDiv || op == Op::Mod) && y->is_const(0);
  if (x->is_const() && y->is_const() && !zero_divisor) {
    double v = fold_binary(op, x->value, y->value);
    return dt == DType::Int ? int_constant(static_cast<int64_t>(v)) : constant(v);
  }
  // Algebraic identities. Results keep the broadcast shape.
  auto keep_shape = [&](NodeP r) { return r->dims == dims ? r : fill(r, dims); };
  switch (op) {
    case Op::Add:
      if (x->is_const(0)) return keep_shape(y);
      if (y->is_const(0)) return keep_shape(x);
      if (x->op == Op::Fill && x->args[0]->is_const(0)) return keep_shape(y);
      if (y->op == Op::Fill && y->args[0]->is_const(0)) return keep_shape(x);
      if (y->op == Op::Neg) return binary(Op::Sub, x, y->args[0]);
      break;
    case Op::Sub:
      if (y->is_const(0)) return keep_shape(x);
      if (y->op == Op::Fill && y->args[0]->is_const(0)) return keep_shape(x);
      if (x->is_const(0)) return keep_shape(unary(Op::Neg, y));
      if (y->op == Op::Neg) return binary(Op::Add, x, y->args[0]);
      break;
    case Op::Mul:
      if (x->is_const(1)) return keep_shape(y);
      if (y->is_const(1)) return keep_shape(x);
      if (x->is_const(0) || y->is_const(0)) return keep_shape(dt == DType::Int ? int_constant(0) : constant(0));
      if ((x->op == Op::Fill && x->args[0]->is_const(0)) || (y->op == Op::Fill && y->args[0]->is_const(0)))
        return zeros(dims);
      if (x->is_const(-1)) return keep_shape(unary(Op::Neg, y));
      if (y->is_const(-1)) return keep_shape(unary(Op::Neg, x));
      if (x->op == Op::Neg && y->op == Op::Neg) return binary(Op::Mul, x->args[0], y->args[0]);
      break;
    case Op::Div:
      if (y->is_const(1)) return keep_shape(x);
      if (x->is_const(0) || (x->op == Op::Fill && x->args[0]->is_const(0))) return zeros(dims);
      break;
    default: break;
  }
  if (x->op == Op::Fill && y->op == Op::Fill) return fill(binary(op, x->args[0], y->args[0]), dims);
  if (dt == DType::Real && !is_comparison(op)) {
    x = cast_real(x);
    y = cast_real(y);
  }
  Node n{op, dt, dims, {x, y}};
  return intern(std::move(n));
}

NodeP Graph::select(NodeP cond, NodeP then_value, NodeP else_value) {
  if (cond->is_const()) {
    NodeP r = cond->value != 0 ? then_value : else_value;
    std::vector<int64_t> dims = broadcast_dims(then_value, else_value);
    return r->dims == dims ? r : fill(r, dims);
  }
  if (then_value == else_value) return then_value;
  DType dt = (then_value->dtype == DType::Int && else_value->dtype == DType::Int) ? DType::Int : DType::Real;
  if (dt == DType::Real) {
    then_value = cast_real(then_value);
    else_value = cast_real(else_value);
  }
  std::vector<int64_t> dims = broadcast_dims(then_value, else_value);
  if (!cond->is_scalar() && !dims.empty() && cond->dims != dims) internal("select condition of another shape");
  if (!cond->is_scalar()) dims = cond->dims;
  Node n{Op::Select, dt, dims, {cond, then_value, else_value}};
  return intern(std::move(n));
}

// ---- reductions, linear algebra, structure -----------------------------------------

NodeP Graph::sum(NodeP x) {
  if (x->is_scalar()) return x;
  if (x->op == Op::Fill) return mul(x->args[0], constant(static_cast<double>(x->size())));
  if (x->op == Op::OneHot || x->op == Op::PadSlice) return sum(x->args[0]);
  if (x->op == Op::LoopGen) {  // sum of a generated tensor: one loop, no buffer
    NodeP lo = x->args[0];
    return loop_sum(loop_var(static_cast<int>(x->a)), lo, add(lo, int_constant(x->b - 1)), sum(x->args[1]));
  }
  if (x->op == Op::Add) return add(sum(x->args[0]), sum(x->args[1]));
  if (x->op == Op::Mul && x->args[0]->is_scalar()) return mul(x->args[0], sum(x->args[1]));
  if (x->op == Op::Mul && x->args[1]->is_scalar()) return mul(sum(x->args[0]), x->args[1]);
  Node n{Op::Sum, x->dtype, {}, {x}};
  return intern(std::move(n));
}

NodeP Graph::max_reduce(NodeP x) {
  if (x->is_scalar()) return x;
  Node n{Op::MaxReduce, x->dtype, {}, {x}};
  return intern(std::move(n));
}

NodeP Graph::matmul(NodeP x, NodeP y) {
  if (x->dims.size() > 2 || y->dims.size() > 2 || x->is_scalar() || y->is_scalar())
    internal("matmul of unsupported ranks");
  int64_t k1 = x->dims.size() == 2 ? x->dims[1] : x->dims[0];
  int64_t k2 = y->dims[0];
  if (k1 != k2) internal("matmul inner dimensions differ");
  std::vector<int64_t> dims;
  if (x->dims.size() == 2) dims.push_back(x->dims[0]);
  if (y->dims.size() == 2) dims.push_back(y->dims[1]);
  if (x->op == Op::Fill && x->args[0]->is_const(0)) return zeros(dims);
  if (y->op == Op::Fill && y->args[0]->is_const(0)) return zeros(dims);
  x = cast_real(x);
  y = cast_real(y);
  Node n{Op::MatMul, DType::Real, dims, {x, y}};
  return intern(std::move(n));
}

NodeP Graph::transpose(NodeP x) {
  if (x->dims.size() != 2) return x;  // rank 1: orientation lives in Stan types only
  if (x->op == Op::Transpose) return x->args[0];
  if (x->op == Op::Fill) return fill(x->args[0], {x->dims[1], x->dims[0]});
  Node n{Op::Transpose, x->dtype, {x->dims[1], x->dims[0]}, {x}};
  return intern(std::move(n));
}

NodeP Graph::cholesky(NodeP a) {
  if (a->dims.size() != 2 || a->dims[0] != a->dims[1]) internal("cholesky of a non-square matrix");
  Node n{Op::Cholesky, DType::Real, a->dims, {cast_real(a)}};
  return intern(std::move(n));
}

// T X = B, or A X = B: B is a vector (rank 1) or a matrix with as many rows as T.
static void check_solve_shapes(NodeP t, NodeP b, const char* what) {
  if (t->dims.size() != 2 || t->dims[0] != t->dims[1]) internal(std::string(what) + " of a non-square matrix");
  if (b->dims.empty() || b->dims.size() > 2 || b->dims[0] != t->dims[0])
    internal(std::string(what) + ": the right-hand side does not match the matrix");
}

NodeP Graph::tri_solve(NodeP t, NodeP b, bool upper) {
  check_solve_shapes(t, b, "tri_solve");
  if (b->op == Op::Fill && b->args[0]->is_const(0)) return b;
  Node n{Op::TriSolve, DType::Real, b->dims, {cast_real(t), cast_real(b)}};
  n.a = upper ? 1 : 0;
  return intern(std::move(n));
}

NodeP Graph::eigen_sym(NodeP a) {
  if (a->dims.size() != 2 || a->dims[0] != a->dims[1]) internal("eigen_sym of a non-square matrix");
  Node n{Op::EigenSym, DType::Real, {a->dims[0], a->dims[0] + 1}, {cast_real(a)}};
  return intern(std::move(n));
}

NodeP Graph::solve(NodeP a, NodeP b) {
  check_solve_shapes(a, b, "solve");
  if (b->op == Op::Fill && b->args[0]->is_const(0)) return b;
  Node n{Op::Solve, DType::Real, b->dims, {cast_real(a), cast_real(b)}};
  return intern(std::move(n));
}

NodeP Graph::reshape(NodeP x, std::vector<int64_t> dims) {
  if (x->dims == dims) return x;
  if (x->op == Op::Fill) return fill(x->args[0], dims);
  if (x->op == Op::Reshape) x = x->args[0];
  if (x->dims == dims) return x;
  Node n{Op::Reshape, x->dtype, std::move(dims), {x}};
  if (n.size() != x->size()) internal("reshape changes the element count");
  return intern(std::move(n));
}

NodeP Graph::fill(NodeP scalar, std::vector<int64_t> dims) {
  if (!scalar->is_scalar()) internal("fill of a non-scalar");
  if (dims.empty()) return scalar;
  Node n{Op::Fill, scalar->dtype, std::move(dims), {scalar}};
  return intern(std::move(n));
}

NodeP Graph::pack(std::vector<NodeP> scalars, std::vector<int64_t> dims) {
  DType dt = DType::Int;
  for (NodeP s : scalars) {
    if (!s->is_scalar()) internal("pack of a non-scalar");
    if (s->dtype == DType::Real) dt = DType::Real;
  }
  if (dt == DType::Real)
    for (auto& s : scalars) s = cast_real(s);
  Node n{Op::Pack, dt, std::move(dims), std::move(scalars)};
  if (n.size() != static_cast<int64_t>(n.args.size())) internal("pack size mismatch");
  return intern(std::move(n));
}

NodeP Graph::index(NodeP t, int axis, NodeP idx) {
  if (axis < 0 || axis >= static_cast<int>(t->dims.size())) internal("index axis out of range");
  std::vector<int64_t> dims = t->dims;
  dims.erase(dims.begin() + axis);
  if (t->op == Op::Fill) return fill(t->args[0], dims);
  if (t->op == Op::Pack && t->dims.size() == 1 && idx->is_const()) return t->args.at(static_cast<size_t>(idx->value));
  if (t->op == Op::SetIndex && t->a == axis && idx->is_const() && t->args[1]->is_const())
    return idx->value == t->args[1]->value ? t->args[2] : index(t->args[0], axis, idx);
  if (t->op == Op::SetIndex && t->a == axis && t->args[1] == idx) return t->args[2];
  // Reading through an update of one slice (a Scan carrying one column of a
  // matrix: its body sees the matrix with that column replaced) reads the slice
  // or the tensor below, not a rebuilt tensor. A few levels deep only.
  constexpr int kMaxIndexFoldDepth = 4;
  if (t->op == Op::SetIndex && index_fold_depth_ < kMaxIndexFoldDepth) {
    ++index_fold_depth_;
    NodeP below = index(t->args[0], axis, idx), updated = t->args[2], at = t->args[1];
    NodeP r;
    if (t->a == axis) {
      r = select(binary(Op::Eq, at, idx), updated, below);
    } else {
      int set_axis = t->a > axis ? t->a - 1 : t->a;  // t's updated axis in the result
      int read_axis = axis > t->a ? axis - 1 : axis;  // t's read axis in the update
      r = set_index(below, set_axis, at, index(updated, read_axis, idx));
    }
    --index_fold_depth_;
    return r;
  }
  if (t->op == Op::OneHot && t->a == axis && idx->is_const() && t->args[1]->is_const())
    return idx->value == t->args[1]->value ? t->args[0] : zeros(dims);
  Node n{Op::Index, t->dtype, std::move(dims), {t, idx}};
  n.a = axis;
  return intern(std::move(n));
}

NodeP Graph::slice(NodeP t, int axis, NodeP start, int64_t length) {
  std::vector<int64_t> dims = t->dims;
  dims.at(axis) = length;
  if (t->op == Op::Fill) return fill(t->args[0], dims);
  if (start->is_const(0) && length == t->dims[axis]) return t;
  Node n{Op::Slice, t->dtype, std::move(dims), {t, start}};
  n.a = axis;
  n.b = length;
  return intern(std::move(n));
}

NodeP Graph::one_hot(std::vector<int64_t> dims, int axis, NodeP idx, NodeP v) {
  if (v->op == Op::Fill && v->args[0]->is_const(0)) return zeros(dims);
  if (v->is_const(0)) return zeros(dims);
  v = cast_real(v);
  Node n{Op::OneHot, DType::Real, std::move(dims), {v, idx}};
  n.a = axis;
  return intern(std::move(n));
}

NodeP Graph::pad_slice(std::vector<int64_t> dims, int axis, NodeP start, NodeP v) {
  if (v->op == Op::Fill && v->args[0]->is_const(0)) return zeros(dims);
  if (v->dims == dims) return v;
  v = cast_real(v);
  Node n{Op::PadSlice, DType::Real, std::move(dims), {v, start}};
  n.a = axis;
  return intern(std::move(n));
}

NodeP Graph::set_index(NodeP t, int axis, NodeP idx, NodeP v) {
  // Element-by-element definitions of a vector with known indexes (unrolled loops)
  // stay a Pack of scalars; a long vector starts one only when it already is one
  // (sigma[1] = s on an uninitialised sigma[T] stays one SetIndex, not T scalars).
  constexpr int64_t kMaxPacked = 4096, kMaxPackedFromFill = 64;
  if (t->dims.size() == 1 && idx->is_const() && v->is_scalar() && t->dims[0] <= kMaxPacked &&
      (t->op == Op::Pack || (t->op == Op::Fill && t->dims[0] <= kMaxPackedFromFill))) {
    std::vector<NodeP> elems = t->op == Op::Pack ? t->args : std::vector<NodeP>(static_cast<size_t>(t->dims[0]), t->args[0]);
    elems.at(static_cast<size_t>(idx->value)) = v;
    return pack(elems, t->dims);
  }
  // An update of what the previous update set replaces it.
  if (t->op == Op::SetIndex && t->a == axis && t->args[1] == idx) t = t->args[0];
  DType dt = t->dtype;
  if (v->dtype == DType::Real) dt = DType::Real;
  if (dt == DType::Real) {
    t = cast_real(t);
    v = cast_real(v);
  }
  Node n{Op::SetIndex, dt, t->dims, {t, idx, v}};
  n.a = axis;
  return intern(std::move(n));
}

// ---- loops -------------------------------------------------------------------------

NodeP Graph::loop_sum(NodeP var, NodeP lo, NodeP hi, NodeP body) {
  if (var->op != Op::LoopVar) internal("loop_sum without a loop variable");
  int loop = static_cast<int>(var->a);
  if (lo->is_const() && hi->is_const() && hi->value < lo->value) return body->is_scalar() ? constant(0) : zeros(body->dims);
  if (body->is_const(0) || (body->op == Op::Fill && body->args[0]->is_const(0))) return body;
  if (!body->depends_on_loop(loop)) {  // (a failed check then stays -inf: -inf * count)
    NodeP count = cast_real(add(sub(hi, lo), int_constant(1)));
    return mul(body, count);
  }
  // sum_i one_hot(i - lo) over the full axis is a generated tensor.
  // sum over i of one_hot(i - lo) covering the whole last axis is a generated tensor.
  if (body->op == Op::OneHot && lo->is_const() && hi->is_const() &&
      body->a == static_cast<int>(body->dims.size()) - 1 && hi->value - lo->value + 1 == body->dims.back()) {
    NodeP idx = body->args[1];
    bool aligned = (idx == var && lo->is_const(0)) ||
                   (idx->op == Op::Sub && idx->args[0] == var && idx->args[1] == lo);
    if (aligned) return loop_gen(var, lo, body->dims.back(), body->args[0]);
  }
  // An accumulation into one element (acc[k] += x in a loop that does not move
  // k) sums the values, not whole containers of zeros: the sum goes inside.
  auto is_zeros = [](NodeP t) { return t->op == Op::Fill && t->args[0]->is_const(0); };
  if (body->op == Op::SetIndex && is_zeros(body->args[0]) && !body->args[1]->depends_on_loop(loop))
    return set_index(body->args[0], body->a, body->args[1], loop_sum(var, lo, hi, body->args[2]));
  if (body->op == Op::Pack && body->size() <= 64) {
    std::vector<NodeP> sums;
    for (NodeP element : body->args) sums.push_back(loop_sum(var, lo, hi, element));
    return pack(sums, body->dims);
  }
  // acc[i - c] += x over i: each element written once, a generated tensor padded
  // where the loop does not reach (on the first axis of a matrix, transposed).
  if (body->op == Op::SetIndex && is_zeros(body->args[0]) && lo->is_const() && hi->is_const()) {
    NodeP idx = body->args[1];
    int64_t shift = idx == var ? 0 : -1;
    if (idx->op == Op::Sub && idx->args[0] == var && idx->args[1]->is_const()) shift = static_cast<int64_t>(idx->args[1]->value);
    int axis = body->a;
    int last = static_cast<int>(body->dims.size()) - 1;
    bool placeable = axis == last || (axis == 0 && body->dims.size() == 2);
    int64_t first = static_cast<int64_t>(lo->value) - shift, count = static_cast<int64_t>(hi->value - lo->value) + 1;
    if (shift >= 0 && placeable && first >= 0 && first + count <= body->dims[static_cast<size_t>(axis)]) {
      NodeP generated = loop_gen(var, lo, count, body->args[2]);
      if (axis != last) generated = transpose(generated);
      return pad_slice(body->dims, axis, int_constant(first), generated);
    }
  }
  Node n{Op::LoopSum, body->dtype, body->dims, {lo, hi, body}};
  n.a = loop;
  return intern(std::move(n));
}

NodeP Graph::loop_gen(NodeP var, NodeP lo, int64_t count, NodeP body) {
  if (var->op != Op::LoopVar) internal("loop_gen without a loop variable");
  std::vector<int64_t> dims = body->dims;
  dims.push_back(count);
  int loop = static_cast<int>(var->a);
  if (!body->depends_on_loop(loop) && !body->is_effect) {
    if (body->is_scalar()) return fill(body, dims);
  }
  Node n{Op::LoopGen, body->dtype, std::move(dims), {lo, body}};
  n.a = loop;
  n.b = count;
  return intern(std::move(n));
}

NodeP Graph::scan_state(int loop_id, std::vector<int64_t> dims, DType dtype) {
  Node n{Op::ScanState, dtype, std::move(dims), {}};
  n.a = loop_id;
  return intern(std::move(n));
}

NodeP Graph::scan(NodeP var, NodeP init, NodeP lo, int64_t count, NodeP body) {
  if (var->op != Op::LoopVar) internal("scan without a loop variable");
  if (init->dims != body->dims || init->dtype != body->dtype)
    internal("scan: the body's state (" + std::string(body->dtype == DType::Int ? "int" : "real") + ", " + std::to_string(body->dims.size()) + " dims) differs from the initial state (" + std::string(init->dtype == DType::Int ? "int" : "real") + ", " + std::to_string(init->dims.size()) + " dims)");
  std::vector<int64_t> dims = init->dims;
  dims.push_back(count + 1);
  Node n{Op::Scan, init->dtype, std::move(dims), {init, lo, body}};
  n.a = var->a;
  n.b = count;
  return intern(std::move(n));
}

NodeP Graph::scan_last(NodeP var, NodeP init, NodeP lo, int64_t count, NodeP body) {
  if (var->op != Op::LoopVar) internal("scan_last without a loop variable");
  if (init->dims != body->dims || init->dtype != body->dtype) internal("scan_last: the body's state differs from the initial state");
  if (init->reads_unknowns || lo->reads_unknowns) return nullptr;
  // The body reads the state (marked as reading unknowns, so that a Scan's
  // adjoint is always carried); anything else it reads must be data.
  std::unordered_set<NodeP> seen;
  std::vector<NodeP> stack{body};
  while (!stack.empty()) {
    NodeP m = stack.back();
    stack.pop_back();
    if (!m->reads_unknowns || !seen.insert(m).second) continue;
    if (m->op == Op::ScanState && m->a == var->a) continue;
    if (m->op == Op::Input || m->op == Op::Random || m->op == Op::ScanState) return nullptr;
    for (NodeP a : m->args) stack.push_back(a);
  }
  Node n{Op::ScanLast, init->dtype, init->dims, {init, lo, body}};
  n.a = var->a;
  n.b = count;
  return intern(std::move(n));
}

// ---- effects -----------------------------------------------------------------------

int Graph::add_message(Message m) {
  messages_.push_back(std::move(m));
  return static_cast<int>(messages_.size()) - 1;
}

NodeP Graph::check(NodeP violated, int message_id, std::vector<NodeP> values) {
  if (violated->is_const()) {
    if (violated->value == 0) return constant(0);
  }
  std::vector<NodeP> args{violated};
  for (NodeP v : values) args.push_back(cast_real(v));
  Node n{Op::Check, DType::Real, {}, std::move(args)};
  n.b = message_id;
  return intern(std::move(n));
}

NodeP Graph::print(NodeP condition, int message_id, std::vector<NodeP> values) {
  if (condition->is_const(0)) return constant(0);
  std::vector<NodeP> args{condition};
  for (NodeP v : values) args.push_back(cast_real(v));
  Node n{Op::Print, DType::Real, {}, std::move(args)};
  n.b = message_id;
  return intern(std::move(n));
}

NodeP Graph::random(int64_t sampler, int64_t site, DType dtype, std::vector<int64_t> dims, std::vector<NodeP> params,
                    const std::vector<NodeP>& loops) {
  for (NodeP& p : params) {
    if (!p->is_scalar() && p->dims != dims) internal("random: a parameter of another shape");
    p = cast_real(p);
  }
  params.insert(params.end(), loops.begin(), loops.end());
  Node n{Op::Random, dtype, std::move(dims), std::move(params)};
  n.a = sampler;
  n.b = site;
  return intern(std::move(n));
}

std::pair<NodeP, NodeP> Graph::any_violation(NodeP bad, NodeP x) {
  x = cast_real(x);
  if (x->is_scalar() && bad->is_scalar()) return {bad, x};
  NodeP any = binary(Op::Gt, sum(cast_real(bad)), constant(0));
  // The maximum of the offending elements, found without a branch in the loop.
  NodeP worst = max_reduce(select(bad, unary(Op::StopGradient, x), constant(-INFINITY)));
  return {any, worst};
}

NodeP Graph::add_all(const std::vector<NodeP>& terms) {
  NodeP total = constant(0);
  for (NodeP t : terms) total = add(total, t);
  return total;
}

// ---- traversal and printing ------------------------------------------------------------

std::vector<NodeP> topological_order(const std::vector<NodeP>& roots) {
  // Node ids are creation order and args are always created first, so sorting the
  // reachable set by id is a topological order.
  std::unordered_set<NodeP> seen;
  std::vector<NodeP> stack(roots.begin(), roots.end()), out;
  while (!stack.empty()) {
    NodeP n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    out.push_back(n);
    for (NodeP a : n->args) stack.push_back(a);
  }
  std::sort(out.begin(), out.end(), [](NodeP x, NodeP y) { return x->id < y->id; });
  return out;
}

std::string print_graph(const Graph& g, const std::vector<std::pair<std::string, NodeP>>& roots) {
  std::vector<NodeP> root_nodes;
  for (auto& r : roots) root_nodes.push_back(r.second);
  std::ostringstream out;
  auto shape = [](NodeP n) {
    std::string s = n->dtype == DType::Int ? "int" : "real";
    if (!n->dims.empty()) {
      s += "[";
      for (size_t i = 0; i < n->dims.size(); ++i) s += (i ? "," : "") + std::to_string(n->dims[i]);
      s += "]";
    }
    return s;
  };
  for (NodeP n : topological_order(root_nodes)) {
    out << "  %" << n->id << " : " << shape(n) << " = " << op_name(n->op);
    switch (n->op) {
      case Op::Const: out << " " << n->value; break;
      case Op::Input:
        out << " " << (n->a == 0 ? "params" : n->a == 1 ? "data" : "buffer" + std::to_string(n->a)) << "+" << n->b;
        break;
      case Op::LoopVar: out << " i" << n->a; break;
      case Op::Index: case Op::Slice: case Op::OneHot: case Op::PadSlice: case Op::SetIndex:
        out << " axis=" << n->a;
        break;
      case Op::LoopSum: case Op::LoopGen: case Op::Scan: case Op::ScanState: out << " i" << n->a; break;
      case Op::TriSolve: out << (n->a ? " upper" : " lower"); break;
      case Op::Check: case Op::Print: out << " \"" << g.message(static_cast<int>(n->b)).text << "\""; break;
      case Op::Random: out << " sampler=" << n->a << " site=" << n->b; break;
      default: break;
    }
    for (NodeP a : n->args) out << " %" << a->id;
    if (n->op == Op::Slice) out << " len=" << n->b;
    if (n->op == Op::LoopGen || n->op == Op::Scan || n->op == Op::ScanLast) out << " count=" << n->b;
    out << "\n";
  }
  for (auto& r : roots) out << "  " << r.first << " = %" << r.second->id << "\n";
  return out.str();
}

}  // namespace latent::ir
