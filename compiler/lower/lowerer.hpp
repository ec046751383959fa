// Lowering of checked statements and expressions to IR, by partial evaluation:
// integers known from data (sizes, loop bounds, conditions) are evaluated while
// lowering, so that shapes and trip counts are constants; everything that
// depends on parameters becomes IR. See loop_plan.hpp for how loops lower, and
// lower_functions.cpp for user-defined functions (inlined at each call).
#pragma once

#include "compiler/frontend/ast.hpp"
#include "compiler/lower/flows.hpp"
#include "compiler/lower/loop_plan.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "stdlib/library.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace latent {

class Lowerer {
 public:
  using Value = stdlib::Value;

  Lowerer(ir::Graph& graph, const SourceFile& file, std::vector<double>& data)
      : g_(graph), file_(file), data_(data) {}

  // ---- variables ------------------------------------------------------------------
  struct Var {
    Value value;
    bool read_only = false;
    std::string block;  // for messages
  };
  void push_scope() { scopes_.emplace_back(); }
  void pop_scope() { scopes_.pop_back(); }
  void define(const std::string& name, Value v, bool read_only, const std::string& block);
  Var* find(const std::string& name);

  // ---- networks and guides ------------------------------------------------------------
  struct DenseLayer {
    ir::NodeP weight, bias;  // dims {in, out} and {out}
  };
  void define_layer(const std::string& name, DenseLayer layer) { layers_[name] = layer; }
  // An invertible layer or a flow (compiler/lower/flows.hpp): `name(z)` maps base
  // to data, `name_inverse(x)` back, and `x ~ name(mu, sigma)` is x's density.
  void define_flow(const std::string& name, flows::Flow flow) { flows_[name] = std::move(flow); }
  const flows::Flow* find_flow(const std::string& name) const {
    auto it = flows_.find(name);
    return it == flows_.end() ? nullptr : &it->second;
  }
  // Variational objectives need the true density: `~` then keeps every constant
  // instead of Stan's proportional form (which drops terms free of parameters).
  void keep_constants(bool on) { keep_constants_ = on; }
  // While lowering a guide, `z ~ dist(params)` is recorded here (not added to
  // target): the parameters broadcast to z's IR dims.
  void record_guide(std::vector<GuideDraw>* out) { guide_draws_ = out; }
  // While simulating (LowerOptions::ancestral), `~` on a parameter draws it.
  // Each drawn piece is read by later statements as a placeholder (an Input of
  // kSimulatedPieceBuffer); take_simulated() gives {placeholder, draw} pairs.
  void simulate(bool on) { simulating_ = on; }
  std::vector<std::pair<ir::NodeP, ir::NodeP>> take_simulated() { return std::move(simulated_pieces_); }
  // Per parameter, the first `~` on one of its elements that could not be simulated, and why.
  const std::map<std::string, std::string>& simulation_gaps() const { return simulation_gaps_; }
  // The IR dims of each parameter (the guide's distributions take their shape).
  void set_parameter_dims(const std::string& name, std::vector<int64_t> ir_dims) { parameter_dims_[name] = ir_dims; }
  // The unconstrained leaf (Input 0) of a parameter that the guide may draw.
  void set_parameter_leaf(const std::string& name, ir::NodeP leaf) { parameter_leaves_[name] = leaf; }

  // ---- statements and expressions -------------------------------------------------------
  // From stmts[first] on; after a masked break or continue the rest runs under the loop's flags.
  void statements(const std::vector<ast::StmtPtr>& stmts, size_t first = 0);
  void statement(const ast::Stmt& s);            // reports a value over ir::kMaxElements at s
  void statement_unchecked(const ast::Stmt& s);
  Value expr(const ast::Expr& e);

  // Evaluates a size expression, which must be known from data.
  int64_t known_int(const ast::Expr& e, const std::string& what);
  double known_real(const ast::Expr& e, const std::string& what);
  // A value computed from the data alone (folded), or an error naming `what`.
  ir::NodeP known_data(const ast::Expr& e, const std::string& what);
  // A slice index `a:b`, `a:`, `:b` or `:` over `size` elements: its 0-based start
  // and its length. The length must be known from data; the start may move with a
  // loop variable (x[i:(i + 2)]), and is then checked at run time.
  std::pair<ir::NodeP, int64_t> slice_bounds(const ast::Index& ix, int64_t size, SourceLoc loc);
  // IR dims of a declaration whose sizes are known ({stan dims} and {ir dims}).
  void declared_dims(const ast::VarDecl& d, std::vector<int64_t>* stan_dims, std::vector<int64_t>* ir_dims);
  // A declaration's constraint, with bounds lowered.
  ConstraintSpec constraint(const ast::VarDecl& d);

  // Target terms and checks collected while lowering.
  std::vector<Term> take_terms() { return std::exchange(terms_, {}); }
  std::vector<ir::NodeP>& data_checks() { return data_checks_; }
  void add_term(SourceLoc loc, ir::NodeP value);
  // Adds a check that fails when `violated` holds, at `loc`.
  void add_check(SourceLoc loc, ir::NodeP violated, const std::string& message, ir::NodeP value,
                 const std::string& value_name);

  [[noreturn]] void error(SourceLoc loc, const std::string& message) const;
  std::string location(SourceLoc loc) const;

  // Stan dims -> IR dims and back (array dims become the slowest IR axes).
  static std::vector<int64_t> ir_dims_of(const Type& t, const std::vector<int64_t>& stan_dims);
  static std::vector<int64_t> stan_dims_of(const Type& t, const std::vector<int64_t>& ir_dims);

 private:
  struct Scope {
    std::map<std::string, Var> vars;
  };
  // Redirects of a symbolic loop body: `v[i]` reads/writes a hidden element
  // variable; in a Scan keeping a window of v, `v[i - c]` reads lags[c - 1].
  struct Redirect {
    ir::NodeP loop_var;
    std::string hidden;
    std::vector<std::string> lags;
  };

  Value binary(const std::string& op, const Value& a, const Value& b, Type result, SourceLoc loc);
  Value integer_division(ir::Op op, ir::NodeP x, ir::NodeP y, Type result, SourceLoc loc);
  Value call(const ast::Expr& e);
  std::optional<Value> padded_reduction(const ast::Expr& e);
  Value dense(const DenseLayer& layer, const Value& x, const ast::Expr& call);
  // Flows (lower_flows.cpp): the flow a call or a `~` names (null: none), its
  // map either way, and the density of a `~` through it.
  const flows::Flow* flow_of_call(const std::string& name, bool* inverse) const;
  Value flow_call(const flows::Flow& flow, bool inverse, const ast::Expr& call);
  void flow_tilde(const ast::Stmt& s, const flows::Flow& flow, std::vector<Value> params);
  ir::NodeP flow_rows(const Value& x, const flows::Flow& flow, SourceLoc loc, const std::string& what);
  // Records what a top-level `~` drew from what (TildeRecord), once its term is added.
  void record_tilde(const ast::Stmt& s, ir::NodeP lp, TildeRecord record);
  void tilde(const ast::Stmt& s);
  void truncation(const ast::Stmt& s);
  void guide_tilde(const ast::Stmt& s, const stdlib::DistributionEntry& d, const std::vector<Value>& params);
  Value index(const ast::Expr& e);
  Value apply_indices(Value v, const std::vector<ast::Index>& indices, SourceLoc loc);
  ir::NodeP index_value(const Value& iv, int64_t size, SourceLoc loc);
  // An int data element at a known position as a constant (reals too with `reals`).
  ir::NodeP fold_data(ir::NodeP n, bool reals = false) const;
  // A scalar computed from data alone (sum(m) - 1 with m an int array of transformed
  // data) as a constant, from the bound data values; n itself when it is not one.
  ir::NodeP fold_data_expression(ir::NodeP n);
  void assign(const ast::Expr& lhs, Value value, SourceLoc loc);
  Value set_path(const Value& current, const std::vector<const ast::Index*>& path, size_t k, const Value& value,
                 SourceLoc loc);
  Value convert(const Value& v, const Type& to, const std::vector<int64_t>& dims, SourceLoc loc,
                const std::string& what);

  void for_loop(const ast::Stmt& s);
  void foreach_loop(const ast::Stmt& s);
  void unrolled_for(const ast::Stmt& s, int64_t lo, int64_t hi, const std::string& why);
  bool unrolled_iteration(const ast::Stmt& s, Value loop_value, const std::string& why);
  // What unrolled loop bodies add to the compiled program, bounded (lower_loops.cpp).
  struct UnrolledCost {
    int64_t operations = 0, elements = 0;
    UnrolledCost operator+(const UnrolledCost& o) const { return {operations + o.operations, elements + o.elements}; }
    UnrolledCost operator-(const UnrolledCost& o) const { return {operations - o.operations, elements - o.elements}; }
  };
  UnrolledCost runtime_cost() const;
  void charge_unrolled_iteration(const ast::Stmt& s, const std::string& why);
  void begin_unrolled_body();
  void end_unrolled_body();
  // Adds a finished term: data-only checks go to data_checks_, the rest to the current list.
  void keep_term(Term t);
  // `values`: the loop variable runs over these (an int array indexed by the
  // loop's own 0-based counter lo..hi) rather than over lo..hi.
  void symbolic_for(const ast::Stmt& s, ir::NodeP lo, ir::NodeP hi, const struct LoopPlan& plan,
                    ir::NodeP values = nullptr);
  bool grouped_for(const ast::Stmt& s, int64_t lo, int64_t hi, const struct LoopPlan& plan);
  void masked_for(const ast::Stmt& s, ir::NodeP lo, ir::NodeP hi, int64_t size, const struct LoopPlan& plan);
  std::vector<Term> loop_body(const ast::Stmt& s, ir::NodeP var, const struct LoopPlan& plan);
  // Lowers the rest of a for loop once its plan is made (lower_loops.cpp).
  void planned_for(const ast::Stmt& s, Value lo, Value hi, struct LoopPlan& plan);
  // Where the body of the masked loop being lowered still runs: neither broken out of nor continued.
  ir::NodeP still_running();
  void masked_exit(const ast::Stmt& s);
  // Lowers a loop with carried state as an IR Scan; false (nothing lowered)
  // when its state cannot be one tensor (ints mixed with reals).
  bool scan_for(const ast::Stmt& s, ir::NodeP lo, int64_t count, const struct LoopPlan& plan);
  std::unordered_map<ir::NodeP, ir::NodeP> shared_draws(SourceLoc loc, ir::NodeP var, ir::NodeP lo, int64_t count,
                                                        const std::vector<ir::NodeP>& outputs);
  void while_loop(const ast::Stmt& s);
  // The trip count of a counted while loop when known from data; else nothing, and
  // `endless` says why when the loop never ends or runs past kMaxWhileTrips.
  std::optional<int64_t> while_trip_count(const CountedWhile& w, std::string* endless);
  void if_statement(const ast::Stmt& s);
  // Lowers `then_body` (and `else_body`) under the run-time condition `cond` (Int),
  // merging what they change with selects.
  void conditional(ir::NodeP cond, const ast::Stmt* then_body, const ast::Stmt* else_body);
  // The same with the branches lowered by callbacks (`lower_else` may be empty); `loc` names the branch.
  void conditional(ir::NodeP cond, const std::function<void()>& lower_then, const std::function<void()>& lower_else,
                   SourceLoc loc);
  // User-defined functions (lower_functions.cpp).
  Value call_function(const ast::FunctionDef& f, const std::vector<Value>& args, SourceLoc loc, bool propto);
  void return_statement(const ast::Stmt& s);
  // Whether `~` and _lupdf may drop constant terms here (false inside a density called as _lpdf).
  bool outer_propto() const;
  // The condition under which the current statement runs, through the calls it is inlined in.
  ir::NodeP full_path() const;
  void print_or_reject(const ast::Stmt& s);
  void declare_local(const ast::Stmt& s);

  // Interval of an integer node when known (loop variables with known bounds).
  std::optional<std::pair<int64_t, int64_t>> int_range(ir::NodeP n) const;
  bool known_true(ir::NodeP cond) const { return cond->is_const() && cond->value != 0; }

  ir::Graph& g_;
  const SourceFile& file_;
  std::vector<double>& data_;  // the data buffer (grouped loops add their index lists)
  std::vector<Scope> scopes_;
  std::map<std::string, std::vector<Redirect>> redirects_;
  // Size expressions whose value is known in the group of iterations being lowered (grouped_for).
  std::map<const ast::Expr*, int64_t> known_sizes_;
  std::map<int, std::pair<int64_t, int64_t>> loop_ranges_;
  // Loops whose range above is only a bound (their bounds vary: for (j in 1:(i - 1))),
  // not the values they take: an index whose range reaches outside is checked at run time.
  std::set<int> loose_ranges_;
  std::vector<Term> terms_;
  std::vector<Term>* current_terms_ = &terms_;
  std::vector<ir::NodeP> data_checks_;
  ir::NodeP path_ = nullptr;  // condition under which the current statement runs (null: always)
  // The bounds of a masked loop (masked_for): its body runs only where lo <= i <= hi.
  std::pair<ir::NodeP, ir::NodeP> masked_bounds_{nullptr, nullptr};
  int unrolled_iterations_ = 0;
  // Counted while loops lowered as for loops (they borrow the while loops' bodies).
  std::vector<std::shared_ptr<ast::Stmt>> counted_loops_;
  int unrolled_depth_ = 0;          // unrolled bodies being lowered, one inside another
  UnrolledCost unrolled_cost_;      // made by finished outermost unrolled bodies
  UnrolledCost outermost_start_;    // runtime_cost() when the outermost body began
  // Unrolled loops: a break or continue lowered, ending the iteration (or the loop) while lowering.
  bool break_ = false, continue_ = false;
  // path_ when the innermost unrolled loop began: its break must be under a condition known while lowering.
  ir::NodeP unrolled_entry_path_ = nullptr;
  // The symbolic loop or Scan whose body is being lowered, when it has break or
  // continue (loop_plan.hpp): they set the flags kBroken / kContinued, and the
  // statements after them run masked. Null in unrolled loops and outside loops.
  struct LoopExits {
    bool breaks = false, continues = false;  // the flags the loop has (LoopPlan)
    int64_t taken = 0;                       // masked breaks and continues lowered so far
  };
  LoopExits* loop_exits_ = nullptr;
  // While an unrolled loop's body (or an inlined function's) is lowered: its break
  // and continue stop the lowering (no masked loop is in effect), under the path
  // `entry`; the state before is restored on leaving.
  class UnrolledExits {
   public:
    UnrolledExits(Lowerer& l, ir::NodeP entry)
        : l_(l), exits_(std::exchange(l.loop_exits_, nullptr)), entry_(std::exchange(l.unrolled_entry_path_, entry)) {}
    ~UnrolledExits() {
      l_.loop_exits_ = exits_;
      l_.unrolled_entry_path_ = entry_;
    }
    UnrolledExits(const UnrolledExits&) = delete;
    UnrolledExits& operator=(const UnrolledExits&) = delete;

   private:
    Lowerer& l_;
    LoopExits* exits_;
    ir::NodeP entry_;
  };
  // A break or continue under a condition known only at run time where the loop is unrolled.
  [[noreturn]] void exit_under_runtime_condition(SourceLoc loc);
  int hidden_counter_ = 0;
  std::unordered_set<ir::NodeP> draw_arrays_;  // arrays of draws made once per loop (shared_draws)
  std::map<std::string, DenseLayer> layers_;
  std::map<std::string, flows::Flow> flows_;
  std::map<std::string, std::vector<int64_t>> parameter_dims_;
  std::vector<GuideDraw>* guide_draws_ = nullptr;
  std::set<std::string> piecewise_;  // parameters the guide has drawn part of (z[t] ~ ...)
  bool simulating_ = false;
  std::vector<std::pair<ir::NodeP, ir::NodeP>> simulated_pieces_;
  std::map<std::string, std::string> simulation_gaps_;
  void simulated_tilde(const ast::Stmt& s, const stdlib::DistributionEntry& d, const std::vector<Value>& params);
  std::string drawn_parameter_piece(const ast::Stmt& s) const;
  bool draws_parameter_piece(const ast::Stmt& s) const;
  std::map<std::string, ir::NodeP> parameter_leaves_;
  bool reads_parameter(ir::NodeP leaf, const std::string& name) const;
  bool keep_constants_ = false;
  std::vector<ir::NodeP> enclosing_loops_;  // variables of the symbolic loops being lowered
  int64_t draw_sites_ = 0;                   // `_rng` calls lowered so far

  // The call being inlined (lower_functions.cpp): what its `return`s have done so far.
  struct Frame {
    const ast::FunctionDef* function = nullptr;
    SourceLoc call;
    ir::NodeP entry_path = nullptr;  // the caller's full path (null: always)
    bool propto = false;             // called through `~` or _lupdf (or an _lp function in such a context)
    ir::NodeP returned = nullptr;    // the condition (local to the body) under which it has returned
    std::optional<Value> result;     // the value returned so far, valid where `returned` holds
  };
  Frame* frame_ = nullptr;
  bool returning_ = false;  // a return was lowered: the rest of the current statement list is dead
  int call_depth_ = 0;
  uintptr_t stack_base_ = 0;  // the stack address of the outermost call
  int64_t inlined_calls_ = 0;
  // Calls without effects, by function (its address), propto and argument node ids (the IR is hash-consed).
  std::map<std::tuple<uintptr_t, bool, std::vector<int>>, Value> memo_;
};

}  // namespace latent
