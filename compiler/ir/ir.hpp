// The IR: an immutable, hash-consed DAG of typed scalar and tensor operations.
//
// Tensors are dense, column-major (first index fastest): a Stan matrix[m, n] is
// dims {m, n}; a Stan array is stored with its array index slowest, so
// array[N] vector[D] is dims {D, N}. Scalars have dims {}. The flat storage order
// of every tensor therefore equals Stan's unconstrained-parameter order.
//
// Nodes are created only through Graph, which interns them (structurally equal
// nodes are the same pointer: common-subexpression elimination for free) and
// simplifies as it builds (constant folding, algebraic identities). Passes read
// nodes and build new ones; nothing is mutated after construction.
//
// Loops are expressions: LoopSum(i in lo..hi) body and LoopGen(i in lo..lo+n-1)
// body (a tensor whose last axis is the loop), and Scan, a loop with carried
// state whose value is the state's history (a recursion, a running hidden state). A loop body is the sub-DAG of
// nodes that depend on the loop's LoopVar; everything else it reads is
// loop-invariant and computed once outside.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/source.hpp"
#include "kernels/eval_context.hpp"

namespace latent::ir {

// The most elements one value of a program may have (2^28 doubles: 2 GiB). Sizes
// come from data; a larger one is a user error with the declaration's (or the
// statement's) location rather than an allocation that fails or a loop that does
// not end (README.md, "Limits").
constexpr int64_t kMaxElements = int64_t{1} << 28;

// Thrown by Graph when a node would have more than kMaxElements elements; the
// lowerer reports it at the statement being lowered.
class TooLarge : public UserError {
 public:
  using UserError::UserError;
};

// The number of elements of dims, saturating at INT64_MAX.
int64_t element_count(const std::vector<int64_t>& dims);

enum class DType : uint8_t { Real, Int };

// Every operation, from the one list in ops.def (see there for what each means).
enum class Op : uint8_t {
#define OP(name, printed) name,
#include "compiler/ir/ops.def"
};

inline constexpr int kNumOps = 0
#define OP(name, printed) +1
#include "compiler/ir/ops.def"
    ;

const char* op_name(Op op);
bool is_unary(Op op);        // UNARY in ops.def
bool is_binary(Op op);       // BINARY in ops.def
bool is_elementwise(Op op);  // unary and binary elementwise ops and Select

struct Node;
using NodeP = const Node*;

struct Node {
  Node(Op o, DType t, std::vector<int64_t> d, std::vector<NodeP> a)
      : op(o), dtype(t), dims(std::move(d)), args(std::move(a)) {}
  Op op;
  DType dtype;
  std::vector<int64_t> dims;
  std::vector<NodeP> args;
  double value = 0;  // Const
  int64_t a = 0, b = 0;
  // Derived at construction:
  int id = 0;                       // creation order: args always have smaller ids
  std::vector<int> free_loops;      // sorted ids of LoopVars this node depends on (unbound)
  bool depends_on_params = false;   // reads Input buffer 0 (what gradients are taken with respect to)
  bool reads_unknowns = false;      // reads an Input other than data (buffer 1): parameters, weights, noise
  bool is_effect = false;           // contains a Check, Print or Random somewhere below (never hoisted or merged away)

  bool is_scalar() const { return dims.empty(); }
  int64_t size() const;  // element count
  bool is_const() const { return op == Op::Const; }
  bool is_const(double v) const { return op == Op::Const && value == v; }
  bool depends_on_loop(int loop) const;
};

// Messages attached to Check and Print nodes (kernels/eval_context.hpp: the
// runtime reports a failed check by its message's index in the Graph's table).
using latent::Message;

class Graph {
 public:
  Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // leaves
  NodeP constant(double v);
  NodeP int_constant(int64_t v);
  NodeP input(int buffer, int64_t offset, std::vector<int64_t> dims, DType dtype = DType::Real);
  NodeP new_loop_var();
  NodeP loop_var(int loop_id);  // the variable of an existing loop

  // elementwise
  NodeP unary(Op op, NodeP x);
  NodeP binary(Op op, NodeP x, NodeP y);
  NodeP select(NodeP cond, NodeP then_value, NodeP else_value);
  NodeP add(NodeP x, NodeP y) { return binary(Op::Add, x, y); }
  NodeP sub(NodeP x, NodeP y) { return binary(Op::Sub, x, y); }
  NodeP mul(NodeP x, NodeP y) { return binary(Op::Mul, x, y); }
  NodeP div(NodeP x, NodeP y) { return binary(Op::Div, x, y); }
  NodeP neg(NodeP x) { return unary(Op::Neg, x); }
  NodeP cast_real(NodeP x);

  // reductions, linear algebra, structure
  NodeP sum(NodeP x);
  NodeP max_reduce(NodeP x);
  NodeP matmul(NodeP x, NodeP y);
  NodeP transpose(NodeP x);
  // Dense linear algebra on square matrices (ops.def: Cholesky, TriSolve, Solve).
  NodeP cholesky(NodeP a);
  NodeP tri_solve(NodeP t, NodeP b, bool upper);
  NodeP solve(NodeP a, NodeP b);
  NodeP eigen_sym(NodeP a);
  NodeP reshape(NodeP x, std::vector<int64_t> dims);
  NodeP fill(NodeP scalar, std::vector<int64_t> dims);
  NodeP pack(std::vector<NodeP> scalars, std::vector<int64_t> dims);
  NodeP index(NodeP t, int axis, NodeP idx);
  NodeP slice(NodeP t, int axis, NodeP start, int64_t length);
  NodeP one_hot(std::vector<int64_t> dims, int axis, NodeP idx, NodeP v);
  NodeP pad_slice(std::vector<int64_t> dims, int axis, NodeP start, NodeP v);
  NodeP set_index(NodeP t, int axis, NodeP idx, NodeP v);
  NodeP zeros(const std::vector<int64_t>& dims) { return fill(constant(0), dims); }

  // loops: `var` must come from new_loop_var()
  NodeP loop_sum(NodeP var, NodeP lo, NodeP hi, NodeP body);
  NodeP loop_gen(NodeP var, NodeP lo, int64_t count, NodeP body);
  // A loop with carried state: the state of loop `var` is scan_state(var's id,
  // ...) in `body`, which computes the next state (see Op::Scan in ops.def).
  // The state is taken to depend on parameters (its adjoint is always carried).
  NodeP scan_state(int loop_id, std::vector<int64_t> dims, DType dtype);
  NodeP scan(NodeP var, NodeP init, NodeP lo, int64_t count, NodeP body);
  // The final state of such a loop, when neither `init` nor `body` reads
  // parameters or other unknowns (only the state): data, never differentiated.
  // Null when they do read them (then use scan()).
  NodeP scan_last(NodeP var, NodeP init, NodeP lo, int64_t count, NodeP body);

  // effects
  int add_message(Message m);
  const Message& message(int id) const { return messages_.at(id); }
  const std::vector<Message>& messages() const { return messages_; }
  NodeP check(NodeP violated, int message_id, std::vector<NodeP> values);
  NodeP print(NodeP condition, int message_id, std::vector<NodeP> values);
  // A draw of dims `dims` from sampler `sampler` (one per element; the parameters
  // are scalars or have `dims`). `site` keeps distinct draws distinct (no CSE);
  // `loops`, the enclosing loops' variables, make it a new draw every iteration.
  NodeP random(int64_t sampler, int64_t site, DType dtype, std::vector<int64_t> dims, std::vector<NodeP> params,
               const std::vector<NodeP>& loops);

  // For an elementwise condition `bad` on x: whether any element is bad, and the
  // largest offending value of x to report (scalars pass through unchanged).
  std::pair<NodeP, NodeP> any_violation(NodeP bad, NodeP x);

  // Sum of a list of scalars (empty -> 0).
  NodeP add_all(const std::vector<NodeP>& terms);

  size_t node_count() const { return nodes_.size(); }
  // Nodes made so far that run at run time (they read parameters or draws: data-only
  // nodes are folded away), and the elements they write.
  size_t runtime_node_count() const { return runtime_nodes_; }
  int64_t runtime_element_total() const { return runtime_elements_; }

 private:
  NodeP intern(Node n);
  struct KeyHash {
    size_t operator()(const Node* n) const;
  };
  struct KeyEq {
    bool operator()(const Node* x, const Node* y) const;
  };
  std::deque<Node> nodes_;
  std::unordered_map<const Node*, NodeP, KeyHash, KeyEq> interned_;
  std::vector<Message> messages_;
  int next_loop_ = 0;
  // How deep index() is in folds through SetIndex chains (bounded: an unrolled
  // loop's chain of element updates may be thousands long).
  int index_fold_depth_ = 0;
  size_t runtime_nodes_ = 0;
  int64_t runtime_elements_ = 0;
};

// Nodes reachable from `roots`, in topological order (arguments before users).
std::vector<NodeP> topological_order(const std::vector<NodeP>& roots);

// Renders the DAG reachable from the named roots, one node per line ("%12 = exp %7").
std::string print_graph(const Graph& g, const std::vector<std::pair<std::string, NodeP>>& roots);

}  // namespace latent::ir
