// The semantic checker: names, types and block rules, with Stan's semantics.
//
// One pass over the program in block order. Every expression gets its type
// (Expr::type), every declaration its type (VarDecl::type). Errors are collected
// and thrown together at the end. An expression that failed to type has
// Type::error(), which every rule accepts silently, so one mistake gives one
// message, not a cascade.
//
// User-defined functions (the table, overloads, suffix rules, the call graph:
// check_functions.cpp) are checked first; their bodies with the rules below,
// in the context of the function (`fn_`): only its arguments are visible, and
// its suffix decides whether it may use target, `~` and _rng functions.
#include "compiler/frontend/check_functions.hpp"
#include "compiler/frontend/frontend.hpp"
#include "compiler/frontend/scope.hpp"
#include "compiler/frontend/typing.hpp"
#include "stdlib/library.hpp"
#include "stdlib/signatures.hpp"

#include <unordered_map>

namespace latent {
namespace {

using namespace ast;
using typing::IndexKind;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool ends_with_any(const std::string& s, std::initializer_list<const char*> suffixes) {
  for (const char* x : suffixes)
    if (ends_with(s, x)) return true;
  return false;
}

// Types whose values are constrained by the type itself (no <...> bounds, not local).
bool is_constrained_type(BaseType b) {
  return b == BaseType::Simplex || b == BaseType::CholeskyFactorCorr || b == BaseType::Ordered ||
         b == BaseType::PositiveOrdered || b == BaseType::CorrMatrix || b == BaseType::CovMatrix ||
         b == BaseType::CholeskyFactorCov || b == BaseType::UnitVector || b == BaseType::SumToZeroVector;
}

const char* base_name(BaseType b) {
  switch (b) {
    case BaseType::Int: return "int";
    case BaseType::Real: return "real";
    case BaseType::Vector: return "vector";
    case BaseType::RowVector: return "row_vector";
    case BaseType::Matrix: return "matrix";
    case BaseType::Simplex: return "simplex";
    case BaseType::CholeskyFactorCorr: return "cholesky_factor_corr";
    case BaseType::Ordered: return "ordered";
    case BaseType::PositiveOrdered: return "positive_ordered";
    case BaseType::CorrMatrix: return "corr_matrix";
    case BaseType::CovMatrix: return "cov_matrix";
    case BaseType::CholeskyFactorCov: return "cholesky_factor_cov";
    case BaseType::UnitVector: return "unit_vector";
    case BaseType::SumToZeroVector: return "sum_to_zero_vector";
  }
  return "?";
}

Base static_base(BaseType b) {
  switch (b) {
    case BaseType::Int: return Base::Int;
    case BaseType::Real: return Base::Real;
    case BaseType::Vector:
    case BaseType::Simplex:
    case BaseType::Ordered:
    case BaseType::PositiveOrdered:
    case BaseType::UnitVector:
    case BaseType::SumToZeroVector: return Base::Vector;
    case BaseType::RowVector: return Base::RowVector;
    case BaseType::Matrix:
    case BaseType::CholeskyFactorCorr:
    case BaseType::CorrMatrix:
    case BaseType::CovMatrix:
    case BaseType::CholeskyFactorCov: return Base::Matrix;
  }
  return Base::Error;
}

int sizes_needed(BaseType b) {
  switch (b) {
    case BaseType::Int:
    case BaseType::Real: return 0;
    case BaseType::Matrix: return 2;
    default: return 1;
  }
}

// The origin of a variable declared at the top level of a block.
Origin global_origin(BlockKind k) {
  switch (k) {
    case BlockKind::Data: return Origin::Data;
    case BlockKind::TransformedData: return Origin::TransformedData;
    case BlockKind::Parameters: return Origin::Parameters;
    case BlockKind::Network: return Origin::Network;
    case BlockKind::TransformedParameters: return Origin::TransformedParameters;
    case BlockKind::GeneratedQuantities: return Origin::GeneratedQuantities;
    default: return Origin::Local;
  }
}

const char* origin_phrase(Origin o) {
  switch (o) {
    case Origin::Data: return "a data variable";
    case Origin::TransformedData: return "a transformed data variable";
    case Origin::Parameters: return "a parameter";
    case Origin::Network: return "a network weight";
    case Origin::TransformedParameters: return "a transformed parameter";
    case Origin::GeneratedQuantities: return "a generated quantity";
    case Origin::Local: return "a local variable";
    case Origin::Loop: return "a loop variable";
    case Origin::Argument: return "a function argument";
  }
  return "?";
}

bool before(SourceLoc a, SourceLoc b) {
  return a.line < b.line || (a.line == b.line && a.column < b.column);
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

class Checker {
 public:
  explicit Checker(Program& p) : prog_(p), diags_(p.source) {}

  void run() {
    // Remember every top-level declaration, to tell "used before its
    // declaration" and "local to the model block" apart from "not defined".
    for (const auto& b : prog_.blocks)
      for (const auto& s : b.stmts)
        if (s && s->kind == StmtKind::Decl && s->decl)
          toplevel_.emplace(s->decl->name, TopDecl{s->decl->loc, b.kind});
    // The network's layers are visible everywhere after the network block, and in
    // user-defined functions (called from the model, the guide or generated quantities).
    for (auto& b : prog_.blocks)
      if (b.kind == BlockKind::Network)
        for (auto& l : b.layers) declare_layer(l, b.kind);
    for (auto& b : prog_.blocks) block(b);
    diags_.throw_if_any();
  }

 private:
  struct TopDecl {
    SourceLoc loc;
    BlockKind block;
  };

  Program& prog_;
  DiagnosticList diags_;
  Scopes scopes_;
  functions::FunctionTable functions_;
  const FunctionDef* fn_ = nullptr;  // the function whose body is being checked
  BlockKind block_ = BlockKind::Data;
  int loops_ = 0;
  std::unordered_map<std::string, TopDecl> toplevel_;
  const VarDecl* current_ = nullptr;  // the declaration whose initialiser is being checked

  void err(SourceLoc loc, std::string msg) { diags_.error(loc, std::move(msg)); }
  // Reports `why` when a rule produced the error type with an explanation.
  Type report(SourceLoc loc, Type t, const std::string& why) {
    if (t.is_error() && !why.empty()) err(loc, why);
    return t;
  }
  // Where the statement being checked is: "model", "transformed data", "function 'f'".
  std::string block_label() const { return fn_ ? "function " + quoted(fn_->name) : block_name(block_); }
  functions::Suffix fn_suffix() const { return fn_ ? functions::suffix_of(fn_->name) : functions::Suffix::None; }
  // target += and ~: the model block and _lp functions.
  bool target_allowed() const { return fn_ ? fn_suffix() == functions::Suffix::Lp : block_ == BlockKind::Model; }
  // target() and calls of _lp functions: where target is (also transformed parameters).
  bool target_visible() const {
    return fn_ ? fn_suffix() == functions::Suffix::Lp
               : block_ == BlockKind::Model || block_ == BlockKind::TransformedParameters;
  }
  // Stan's autodiff level of a variable declared here with this type.
  bool varies_here(Origin origin, const Type& t) const {
    if (t.base == Base::Int) return false;
    switch (origin) {
      case Origin::Parameters:
      case Origin::TransformedParameters:
      case Origin::Network: return true;
      case Origin::Local:
      case Origin::Loop:
        return fn_ || block_ == BlockKind::Model || block_ == BlockKind::TransformedParameters ||
               block_ == BlockKind::Guide;
      default: return false;
    }
  }

  // ---------------------------------------------------------------- blocks

  void block(Block& b) {
    block_ = b.kind;
    loops_ = 0;
    if (b.kind == BlockKind::Functions) {
      functions_.collect(b.functions, diags_);
      for (FunctionDef& f : b.functions)
        if (f.body) function_body(f);
      functions_.mark_recursion();
      return;
    }
    // Declarations at the top of the model and guide blocks are local to them.
    bool local = b.kind == BlockKind::Model || b.kind == BlockKind::Guide;
    if (local) scopes_.push();
    for (auto& l : b.layers) {
      // The network's names are declared first (in run()); their sizes are checked
      // here, where the data they name are in scope.
      if (l.kind == "flow") {
        flow_layers(l);
      } else {
        for (size_t k = 0; k < l.args.size() && k < 2; ++k) size(*l.args[k], l.name, true);
      }
      if (l.kind != "flow" && l.args.size() == 3) {  // a mask of the data (its sizes are checked when lowering)
        const bool coupling = l.kind == "affine_coupling";
        Type t = expr(*l.args[2]);
        bool right = coupling ? t.array_dims == 0 && (t.base == Base::Vector || t.base == Base::RowVector)
                              : t.array_dims == 0 && t.base == Base::Matrix;
        if (!t.is_error() && !right)
          err(l.args[2]->loc, "the mask of layer " + quoted(l.name) + " must be a " +
                                  (coupling ? "vector[D] of 0 and 1" : "matrix[in, out]") + ", found " + t.str());
        data_only_refs(*l.args[2], l.name, "the mask of layer ");
      }
      if (b.kind != BlockKind::Network) declare_layer(l, b.kind);
    }
    bool decls_only = b.kind == BlockKind::Data || b.kind == BlockKind::Parameters || b.kind == BlockKind::Network;
    for (auto& s : b.stmts) {
      if (!s) continue;
      if (decls_only && s->kind != StmtKind::Decl) {
        if (s->kind != StmtKind::Empty)
          err(s->loc, std::string("only declarations are allowed in the ") + block_label() + " block");
        continue;
      }
      stmt(*s, true);
    }
    if (local) scopes_.pop();
  }

  // ------------------------------------------------------------ functions

  // A body sees its arguments and its own locals; a non-void one must return on every path.
  void function_body(FunctionDef& f) {
    fn_ = &f;
    loops_ = 0;
    scopes_.push();
    for (const FunctionArg& a : f.args)
      if (!a.type.is_error())
        scopes_.declare(Symbol{a.name, a.type, Origin::Argument, a.loc, BlockKind::Functions,
                               !a.data_only && a.type.base != Base::Int});
    stmt(*f.body, false);
    scopes_.pop();
    const Type& r = f.return_type;
    if (!r.is_error() && r.base != Base::Void && !functions::returns_on_every_path(*f.body))
      err(f.loc, "function " + quoted(f.name) + " must return a value of type " + r.str() +
                     " on every path, but the end of its body can be reached without a return");
    fn_ = nullptr;
  }

  void return_statement(Stmt& s) {
    Type t = s.rhs ? expr(*s.rhs) : Type::void_();
    if (!fn_) {
      err(s.loc, "return statements are only allowed in functions");
      return;
    }
    const Type& want = fn_->return_type;
    const std::string n = quoted(fn_->name);
    if (want.is_error()) return;
    if (want.base == Base::Void) {
      if (s.rhs) err(s.rhs->loc, "void function " + n + " cannot return a value; write 'return;'");
    } else if (!s.rhs) {
      err(s.loc, "function " + n + " must return a value of type " + want.str());
    } else if (!t.is_error() && !assignable(want, t)) {
      err(s.rhs->loc, "function " + n + " returns " + want.str() + ", but this value has type " + t.str());
    }
  }

  // The name of a variable that makes `e` depend on parameters ("" when it is data only).
  std::string varying_reference(const Expr& e) const {
    if (e.kind == ExprKind::Var) {
      const Symbol* s = scopes_.lookup(e.name);
      return s && s->varies ? e.name : "";
    }
    if (e.kind == ExprKind::Call && e.name == "target") return "target()";
    for (const auto& a : e.args)
      if (std::string v = a ? varying_reference(*a) : ""; !v.empty()) return v;
    for (const auto& ix : e.indices)
      for (const ExprPtr* b : {&ix.lower, &ix.upper})
        if (std::string v = *b ? varying_reference(**b) : ""; !v.empty()) return v;
    return "";
  }

  // A call resolved to the user-defined function f: `data` arguments, the call graph.
  void user_call(const std::vector<const Expr*>& args, const FunctionDef& f) {
    if (fn_) functions_.add_call(fn_, &f);
    for (size_t i = 0; i < args.size() && i < f.args.size(); ++i) {
      if (!f.args[i].data_only) continue;
      const std::string v = varying_reference(*args[i]);
      if (v.empty()) continue;
      const Symbol* sym = scopes_.lookup(v);
      std::string what = quoted(v);
      if (sym && sym->origin == Origin::Argument)
        what = "the argument " + what + " of " + quoted(fn_->name) + ", which is not declared 'data'";
      else if (sym)
        what = std::string(origin_phrase(sym->origin)) + " " + what;
      err(args[i]->loc, "argument " + quoted(f.args[i].name) + " of " + quoted(f.name) +
                            " is declared 'data' and must not depend on parameters, but this value depends on " + what);
    }
  }

  // ------------------------------------------------------------ networks

  struct Layer {
    BlockKind block;  // Network, or Guide for the guide's own network
    SourceLoc loc;
    std::string kind;  // dense, affine_coupling, flow
    bool invertible() const { return kind != "dense"; }
  };
  std::unordered_map<std::string, Layer> layers_;
  struct Guided {
    SourceLoc loc;  // its (first) guide statement
    bool piece;     // drawn element by element (z[t] ~ ...)
  };
  std::unordered_map<std::string, Guided> guided_;
  bool plate_seen_ = false;
  std::string plate_;                           // the plate's name
  std::unordered_map<std::string, bool> per_datum_;  // the plate and the data fields it indexes
  bool in_guide_lhs_ = false;  // reading the left side of a guide's ~ (a parameter, allowed)
  int size_context_ = 0;       // > 0 while checking a size, a loop bound or a range bound

  void declare_layer(LayerDecl& l, BlockKind kind) {
    if (scopes_.lookup(l.name) || toplevel_.count(l.name) || stdlib::is_known(l.name) || functions_.has(l.name))
      err(l.loc, "layer name " + quoted(l.name) + " is already used by a variable or function");
    else if (auto it = layers_.find(l.name); it != layers_.end())
      err(l.loc, "layer " + quoted(l.name) + " is already declared (at line " +
                     std::to_string(it->second.loc.line) + ")");
    else
      layers_.emplace(l.name, Layer{kind, l.loc, l.kind});
  }

  // `flow f(c1, c2)`: invertible layers of the model's network, declared before.
  void flow_layers(LayerDecl& l) {
    if (block_ != BlockKind::Network) {
      err(l.loc, "flows are declared in the model's network block, not in the guide's");
      return;
    }
    for (const ExprPtr& a : l.args) {
      auto it = layers_.find(a->name);
      if (it == layers_.end())
        err(a->loc, "flow " + quoted(l.name) + " names " + quoted(a->name) + ", which is not a layer");
      else if (!it->second.invertible())
        err(a->loc, "flow " + quoted(l.name) + " names " + quoted(a->name) + ", a " + it->second.kind +
                        " layer: a flow's layers are invertible (affine_coupling, or another flow)");
      else if (!before(it->second.loc, l.loc))
        err(a->loc, "flow " + quoted(l.name) + " names " + quoted(a->name) + ", which is declared after it");
    }
  }

  // The invertible layer `f` of `f_inverse` (null when the name is not one).
  const Layer* inverse_of(const std::string& name) const {
    const std::string suffix = "_inverse";
    if (name.size() <= suffix.size() || name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      return nullptr;
    auto it = layers_.find(name.substr(0, name.size() - suffix.size()));
    return it != layers_.end() && it->second.invertible() ? &it->second : nullptr;
  }

  // `x ~ f()` or `x ~ f(mu, sigma)` with f a flow: x is the flow's image of a normal
  // base draw (std_normal without arguments); x is a vector, a row_vector or a
  // matrix whose rows are data points, and mu and sigma are reals or x's shape.
  void flow_tilde(Stmt& s, const Type& lhs, const std::vector<Type>& args) {
    if (block_ == BlockKind::Guide) {
      err(s.loc, "a guide's ~ statement draws from a distribution of the library; flow " + quoted(s.dist) +
                     " can only be the model's");
      return;
    }
    if (s.truncated) return err(s.loc, "a flow's distribution cannot be truncated");
    if (lhs.array_dims != 0 || (lhs.base != Base::Vector && lhs.base != Base::RowVector && lhs.base != Base::Matrix))
      err(s.lhs->loc, "flow " + quoted(s.dist) + " gives the distribution of a vector, a row_vector or a matrix "
                      "whose rows are data points, not of " + lhs.str());
    if (!args.empty() && args.size() != 2) {
      err(s.loc, "flow " + quoted(s.dist) + " takes no arguments (a standard normal base) or two, the location and "
                 "scale of its normal base: '~ " + s.dist + "()' or '~ " + s.dist + "(mu, sigma)'");
      return;
    }
    for (size_t i = 0; i < args.size(); ++i) {
      const Type& a = args[i];
      bool scalar = a.is_scalar() && (a.base == Base::Int || a.base == Base::Real);
      if (!scalar && !(a.array_dims == 0 && a.base == lhs.base))
        err(s.args[i]->loc, std::string("the base ") + (i == 0 ? "location" : "scale") + " of flow " +
                                quoted(s.dist) + " must be a real or a " + lhs.str() + " like its variate, not " +
                                a.str());
    }
  }

  // `enc_h(x)`: a dense layer applied to a vector, a row_vector or a matrix
  // whose rows are data points; the result has the same kind.
  Type layer_call(Expr& e, const Layer& l) {
    if (l.block == BlockKind::Guide && block_ != BlockKind::Guide) {
      err(e.loc, "layer " + quoted(e.name) + " belongs to the guide's network and is only visible in the guide");
      return Type::error();
    }
    if (e.args.size() != 1) {
      err(e.loc, "layer " + quoted(e.name) + " takes one argument (a vector, row_vector or matrix)");
      return Type::error();
    }
    Type t = expr(*e.args[0]);
    if (t.is_error()) return t;
    if (t.array_dims != 0 || (t.base != Base::Vector && t.base != Base::RowVector && t.base != Base::Matrix)) {
      err(e.args[0]->loc, "layer " + quoted(e.name) + " takes a vector, row_vector or matrix, found " + t.str());
      return Type::error();
    }
    return t;
  }

  // `z ~ normal(mu, sigma);` in the guide: z's variational distribution. An
  // element of an array parameter, `z[t] ~ ...` (single indices into its array
  // dimensions), draws that part of it: a chain drawn step by step in a loop
  // (a diffusion model's forward process), each step reading the ones before.
  void guide_tilde(Stmt& s) {
    const Expr* root = s.lhs.get();
    size_t indices = 0;
    bool single = true;
    while (root->kind == ExprKind::Index) {
      for (const Index& ix : root->indices) single = single && ix.kind == Index::Kind::Single;
      indices += root->indices.size();
      root = root->args[0].get();
    }
    const Symbol* sym = root->kind == ExprKind::Var ? scopes_.lookup(root->name) : nullptr;
    if (!sym || sym->origin != Origin::Parameters) {
      err(s.lhs->loc, "the left side of a guide's ~ statement must be a parameter, as a whole (e.g. 'z ~ "
                      "normal(mu, sigma)'), or an element of an array parameter ('z[t] ~ normal(mu, sigma)')");
      return;
    }
    const bool piece = indices > 0;
    if (piece && (!single || static_cast<int>(indices) > sym->type.array_dims)) {
      err(s.lhs->loc, "a guide's ~ statement draws a whole parameter or an element of its array dimensions, "
                      "given by single indices ('z[t]'), not " + std::string(single ? "an index into a vector or "
                      "matrix" : "a slice"));
      return;
    }
    if (!piece && loops_ > 0) {
      err(s.loc, "a guide's ~ statement inside a loop draws an element of an array parameter ('z[t] ~ ...'); '" +
                     root->name + "' is drawn whole here, once per iteration");
      return;
    }
    const stdlib::DistributionEntry* d = stdlib::find_distribution(s.dist);
    if (d && !d->reparameterization) {
      err(s.loc, "the guide supports distributions with a reparameterised draw (" +
                     stdlib::reparameterized_distribution_names() + "), not " + quoted(s.dist));
      return;
    }
    if (auto it = guided_.find(root->name); it != guided_.end()) {
      // Elements may be drawn by several statements (the lowering checks that each is drawn once).
      if (piece && it->second.piece) return;
      err(s.loc, "parameter " + quoted(root->name) + " already has a distribution in the guide (line " +
                     std::to_string(it->second.loc.line) + ")");
      return;
    }
    guided_.emplace(root->name, Guided{s.loc, piece});
  }

  // ------------------------------------------------------------ statements

  void scoped(Stmt& s) {
    scopes_.push();
    stmt(s, false);
    scopes_.pop();
  }

  void stmt(Stmt& s, bool top) {
    switch (s.kind) {
      case StmtKind::Decl: decl(*s.decl, top); break;
      case StmtKind::Assign: assign(s); break;
      case StmtKind::Tilde: tilde(s); break;
      case StmtKind::TargetPlus: {
        Type t = expr(*s.rhs);
        if (!target_allowed())
          err(s.loc, "target += is only allowed in the model block and in functions whose names end in _lp, not "
                     "in " + block_label());
        if (!t.is_error() && t.base != Base::Int && t.base != Base::Real && t.base != Base::Vector &&
            t.base != Base::RowVector && t.base != Base::Matrix)
          err(s.rhs->loc, "target += needs an int, real or a container of them, found " + t.str());
        break;
      }
      case StmtKind::For: {
        ++size_context_;
        Type lo = expr(*s.lower), hi = expr(*s.upper);
        --size_context_;
        if (!lo.is_error() && !lo.is_int())
          err(s.lower->loc, "lower bound of the for loop must be int, found " + lo.str());
        if (!hi.is_error() && !hi.is_int())
          err(s.upper->loc, "upper bound of the for loop must be int, found " + hi.str());
        loop(s, Type::int_());
        break;
      }
      case StmtKind::Foreach: {
        Type c = expr(*s.lower);
        std::string why;
        Type elem = report(s.lower->loc, typing::foreach_element(c, &why), why);
        loop(s, elem);
        break;
      }
      case StmtKind::While:
        condition(*s.cond, "while");
        ++loops_;
        scoped(*s.body);
        --loops_;
        break;
      case StmtKind::If:
        condition(*s.cond, "if");
        scoped(*s.body);
        if (s.else_body) scoped(*s.else_body);
        break;
      case StmtKind::Block:
        scopes_.push();
        for (auto& x : s.stmts)
          if (x) stmt(*x, false);
        scopes_.pop();
        break;
      case StmtKind::Print:
      case StmtKind::Reject:
        for (auto& a : s.args) {
          if (a->kind == ExprKind::StringLit) {
            a->type = Type{Base::String, 0};
            continue;
          }
          Type t = expr(*a);
          if (t.base == Base::Void)
            err(a->loc, std::string("cannot ") + (s.kind == StmtKind::Print ? "print" : "reject with") +
                            " an expression of type void");
        }
        break;
      case StmtKind::Break:
      case StmtKind::Continue:
        if (loops_ == 0)
          err(s.loc, std::string(s.kind == StmtKind::Break ? "break" : "continue") +
                         " is only allowed inside a loop");
        break;
      case StmtKind::Return: return_statement(s); break;
      case StmtKind::Expression: {
        Type t = expr(*s.rhs);
        if (s.rhs->kind != ExprKind::Call)
          err(s.rhs->loc, "only function calls can be used as statements");
        else if (!t.is_error() && t.base != Base::Void)
          err(s.rhs->loc, "the result of " + quoted(s.rhs->name) + " (of type " + t.str() +
                              ") is not used; only functions returning void can be statements");
        break;
      }
      case StmtKind::Empty: break;
    }
  }

  // for / foreach: the loop variable is read-only and scoped to the body.
  void loop(Stmt& s, Type var_type) {
    scopes_.push();
    // A foreach element varies with its container.
    const bool varies = s.kind == StmtKind::Foreach ? !varying_reference(*s.lower).empty() : false;
    if (const Symbol* old = scopes_.declare(Symbol{s.loop_var, var_type, Origin::Loop, s.loc, block_, varies}))
      err(s.loc, quoted(s.loop_var) + " is already declared (at line " +
                     std::to_string(old->loc.line) + ")");
    ++loops_;
    scoped(*s.body);
    --loops_;
    scopes_.pop();
  }

  void condition(Expr& e, const char* what) {
    Type t = expr(e);
    if (!t.is_error() && !t.is_scalar())
      err(e.loc, std::string("condition of ") + what + " must be int or real, found " + t.str());
  }

  void tilde(Stmt& s) {
    in_guide_lhs_ = block_ == BlockKind::Guide;
    Type lhs = expr(*s.lhs);
    in_guide_lhs_ = false;
    std::vector<Type> args;
    bool bad = lhs.is_error();
    for (auto& a : s.args) {
      args.push_back(expr(*a));
      bad = bad || args.back().is_error();
    }
    if (block_ == BlockKind::Guide)
      guide_tilde(s);
    else if (!target_allowed())
      err(s.loc, "~ statements are only allowed in the model block and in functions whose names end in _lp, not "
                 "in " + block_label());
    if (ends_with_any(s.dist, {"_lpdf", "_lpmf", "_lupdf", "_lupmf"})) {
      std::string plain = s.dist.substr(0, s.dist.rfind('_'));
      err(s.loc, "a ~ statement names the distribution without its suffix: write '~ " + plain +
                     "(...)', not '~ " + s.dist + "(...)'");
      return;
    }
    if (bad) return;
    if (auto it = layers_.find(s.dist); it != layers_.end() && it->second.invertible())
      return flow_tilde(s, lhs, args);
    std::string why;
    if (functions_.has(s.dist + "_lpdf") || functions_.has(s.dist + "_lpmf")) {
      if (s.truncated) err(s.loc, "truncation T[...] of a user-defined distribution is not supported");
      return user_tilde(s, lhs, args);
    }
    if (!stdlib::tilde_ok(s.dist, lhs, args, &why)) {
      err(s.loc, why.empty() ? "no distribution " + quoted(s.dist) + " matches these arguments" : why);
      return;
    }
    if (s.truncated) truncation(s, lhs);
  }

  // y ~ dist(...) T[L, U]: one variate, scalar bounds, and a distribution with a CDF.
  void truncation(Stmt& s, const Type& lhs) {
    if (block_ == BlockKind::Guide) {
      err(s.loc, "the guide's distributions cannot be truncated");
      return;
    }
    if (!lhs.is_scalar())
      err(s.lhs->loc, "truncation T[...] needs one variate (an int or a real), not " + lhs.str() +
                          ": truncate each element in a loop");
    for (ExprPtr* bound : {&s.truncate_lower, &s.truncate_upper}) {
      if (!*bound) continue;
      Type t = expr(**bound);
      if (!t.is_error() && !(t.is_scalar() && (t.base == Base::Int || t.base == Base::Real)))
        err((*bound)->loc, "a truncation bound must be an int or a real, not " + t.str());
    }
    const stdlib::DistributionEntry* d = stdlib::find_distribution(s.dist);
    if (d && !d->log_cdf)
      err(s.loc, "truncation T[...] needs the CDF of " + quoted(s.dist) + ", which latent does not have (" +
                     s.dist + "_lcdf)");
  }

  // `y ~ foo(...)` with a user-defined foo_lpdf or foo_lpmf: target += foo_lupdf(y | ...).
  void user_tilde(Stmt& s, const Type& lhs, const std::vector<Type>& args) {
    if (block_ == BlockKind::Guide) {
      err(s.loc, "the guide's distributions come from the library; " + quoted(s.dist) + " is user-defined");
      return;
    }
    std::vector<Type> all{lhs};
    all.insert(all.end(), args.begin(), args.end());
    // Both densities and mass functions of that name compete, by Stan's resolution.
    std::string why;
    const FunctionDef* f = functions_.resolve({s.dist + "_lpdf", s.dist + "_lpmf"}, all, &why);
    if (!f) {
      err(s.loc, why);
      return;
    }
    s.function = f;
    std::vector<const Expr*> exprs{s.lhs.get()};
    for (auto& a : s.args) exprs.push_back(a.get());
    user_call(exprs, *f);
  }

  // -------------------------------------------------------------- declarations

  void decl(VarDecl& d, bool top) {
    Origin origin = top ? global_origin(block_) : Origin::Local;
    bool global = origin != Origin::Local;

    int need = sizes_needed(d.base);
    if (d.base == BaseType::CholeskyFactorCov && d.sizes.size() == 2) need = 2;  // [M, N] or [M]
    if (static_cast<int>(d.sizes.size()) != need)
      err(d.loc, std::string(base_name(d.base)) + " " + quoted(d.name) + " needs " +
                     std::to_string(need) + (need == 1 ? " size, " : " sizes, ") +
                     std::to_string(d.sizes.size()) + " given");
    for (auto* list : {&d.array_sizes, &d.sizes})
      for (auto& e : *list) size(*e, d.name, global && block_ != BlockKind::Data);

    d.type = Type{static_base(d.base), static_cast<int>(d.array_sizes.size())};

    if (!d.constraint.empty()) {
      if (!global) err(d.loc, "local variable " + quoted(d.name) + " cannot have constraints");
      constraint(d);
    }
    if (!d.init_scheme.empty()) {
      if (!(top && block_ == BlockKind::Network))
        err(d.init_loc, "'init' sets how a network weight starts: only declarations in a 'network' block take it");
      if (d.init_bound) {
        Type t = expr(*d.init_bound);
        if (!t.is_error() && !t.is_scalar())
          err(d.init_bound->loc, "the initial half-width of " + quoted(d.name) + " must be int or real, found " +
                                     t.str());
      }
    }
    if (!global && is_constrained_type(d.base))
      err(d.loc, "local variable " + quoted(d.name) + " cannot have the constrained type " +
                     base_name(d.base));
    if (top && d.base == BaseType::Int) {
      if (block_ == BlockKind::Parameters)
        err(d.loc, "parameter " + quoted(d.name) + " cannot be int: parameters must be real-valued");
      if (block_ == BlockKind::TransformedParameters)
        err(d.loc, "transformed parameter " + quoted(d.name) +
                       " cannot be int: transformed parameters must be real-valued");
    }
    if (d.init) {
      if (top && block_ == BlockKind::Data)
        err(d.init->loc, "data variable " + quoted(d.name) + " cannot be given a value in its declaration");
      if (top && block_ == BlockKind::Parameters)
        err(d.init->loc, "parameter " + quoted(d.name) + " cannot be given a value in its declaration");
      // The variable is not yet in scope in its own initialiser.
      current_ = &d;
      Type t = expr(*d.init);
      current_ = nullptr;
      if (!t.is_error() && !assignable(d.type, t))
        err(d.init->loc, "cannot initialise " + quoted(d.name) + " of type " + d.type.str() +
                             " with a value of type " + t.str());
    }

    if (d.plate) {
      if (!top || block_ != BlockKind::Data)
        err(d.loc, "only a data variable can be a plate: declare 'int<plate> " + d.name + ";' in the data block");
      else if (plate_seen_)
        err(d.loc, "a model has one plate; " + quoted(d.name) + " is the second");
      plate_seen_ = true;
      plate_ = d.name;
      per_datum_[d.name] = true;
    }
    if (top && block_ == BlockKind::Data && !plate_.empty()) {
      const auto& sizes = d.array_sizes.empty() ? d.sizes : d.array_sizes;
      if (!sizes.empty() && sizes[0]->kind == ExprKind::Var && sizes[0]->name == plate_) per_datum_[d.name] = true;
    }
    if (ends_with(d.name, "__"))
      err(d.loc, "identifier " + quoted(d.name) + " is reserved: names ending in '__' are internal");
    if (const Symbol* old = scopes_.declare(Symbol{d.name, d.type, origin, d.loc, block_, varies_here(origin, d.type)}))
      err(d.loc, quoted(d.name) + " is already declared (at line " + std::to_string(old->loc.line) + ")");
  }

  // A size in a declaration: an int; at the top level of any block after data,
  // it may only depend on data and transformed data.
  void size(Expr& e, const std::string& var, bool data_only) {
    ++size_context_;
    Type t = expr(e);
    --size_context_;
    if (!t.is_error() && !t.is_int())
      err(e.loc, "size of " + quoted(var) + " must be int, found " + t.str());
    if (data_only) data_only_refs(e, var);
  }

  void data_only_refs(const Expr& e, const std::string& var, const char* what = "size of ") {
    if (e.kind == ExprKind::Var) {
      const Symbol* s = scopes_.lookup(e.name);
      if (s && s->origin != Origin::Data && s->origin != Origin::TransformedData)
        err(e.loc, what + quoted(var) + " may only depend on data and transformed data, but " +
                       quoted(e.name) + " is " + origin_phrase(s->origin));
    }
    for (const auto& a : e.args)
      if (a) data_only_refs(*a, var, what);
    for (const auto& ix : e.indices) {
      if (ix.lower) data_only_refs(*ix.lower, var, what);
      if (ix.upper) data_only_refs(*ix.upper, var, what);
    }
  }

  void constraint(VarDecl& d) {
    Constraint& c = d.constraint;
    bool constrained_type = is_constrained_type(d.base);
    if (constrained_type)
      err(d.loc, std::string(base_name(d.base)) + " " + quoted(d.name) +
                     " cannot have bounds, offset or multiplier");
    bool real_valued = d.base == BaseType::Real || d.base == BaseType::Vector ||
                       d.base == BaseType::RowVector || d.base == BaseType::Matrix;
    auto one = [&](ExprPtr& e, const char* what, bool bound) {
      if (!e) return;
      Type t = expr(*e);
      if (t.is_error() || constrained_type) return;
      if (t.is_scalar()) {
        if (bound && d.base == BaseType::Int && !t.is_int())
          err(e->loc, std::string(what) + " of int variable " + quoted(d.name) + " must be int, found " +
                          t.str());
        return;
      }
      if (assignable(d.type, t)) return;  // container bounds, element by element (sizes checked when lowering)
      else
        err(e->loc, std::string(what) + " of " + quoted(d.name) + " must be int or real, found " + t.str());
    };
    one(c.lower, "lower bound", true);
    one(c.upper, "upper bound", true);
    if ((c.offset || c.multiplier) && !real_valued && !constrained_type)
      err(d.loc, "offset and multiplier are only allowed on real, vector, row_vector and matrix, not on " +
                     std::string(base_name(d.base)) + " " + quoted(d.name));
    if ((c.offset || c.multiplier) && (c.lower || c.upper))
      err(d.loc, quoted(d.name) + " cannot have both lower/upper bounds and offset/multiplier");
    one(c.offset, "offset", false);
    one(c.multiplier, "multiplier", false);
  }

  // -------------------------------------------------------------- assignment

  void assign(Stmt& s) {
    Expr* base = s.lhs.get();
    while (base->kind == ExprKind::Index) base = base->args[0].get();
    Type lt = expr(*s.lhs);
    Type rt = expr(*s.rhs);
    if (base->kind != ExprKind::Var) {
      err(s.lhs->loc, "the left side of an assignment must be a variable, optionally indexed");
      return;
    }
    const Symbol* sym = scopes_.lookup(base->name);
    if (!sym) return;  // reported as undefined
    const std::string n = quoted(base->name);
    switch (sym->origin) {
      case Origin::Loop: err(base->loc, "cannot assign to loop variable " + n); return;
      case Origin::Argument:
        err(base->loc, "cannot assign to " + n + ": function arguments are read-only (copy it into a local variable)");
        return;
      case Origin::Data: err(base->loc, "cannot assign to " + n + ": data variables are read-only"); return;
      case Origin::Parameters: err(base->loc, "cannot assign to " + n + ": parameters are read-only"); return;
      case Origin::Network: err(base->loc, "cannot assign to " + n + ": network weights are read-only"); return;
      case Origin::TransformedData:
      case Origin::TransformedParameters:
      case Origin::GeneratedQuantities:
        if (sym->block != block_) {
          err(base->loc, "cannot assign to " + n + ": " + origin_phrase(sym->origin) +
                             " can only be assigned in the " + block_name(sym->block) + " block");
          return;
        }
        break;
      case Origin::Local: break;
    }
    if (lt.is_error() || rt.is_error()) return;
    if (s.op == "=") {
      if (!assignable(lt, rt))
        err(s.rhs->loc, "cannot assign a value of type " + rt.str() + " to " + n + " of type " + lt.str());
      return;
    }
    std::string op = s.op.substr(0, s.op.size() - 1);
    std::string why;
    Type r = typing::binary(op, lt, rt, &why);
    if (r.is_error()) {
      if (!why.empty()) err(s.loc, why + " (in " + s.op + ")");
    } else if (!assignable(lt, r)) {
      err(s.loc, "cannot use " + s.op + " on " + n + " of type " + lt.str() + ": the result has type " +
                     r.str());
    }
  }

  // ------------------------------------------------------------- expressions

  Type expr(Expr& e) {
    e.type = expr_type(e);
    return e.type;
  }

  Type expr_type(Expr& e) {
    std::string why;
    switch (e.kind) {
      case ExprKind::IntLit: return Type::int_();
      case ExprKind::RealLit: return Type::real();
      case ExprKind::StringLit:
        err(e.loc, "string literals are only allowed in print and reject");
        return Type::error();
      case ExprKind::Var: return variable(e);
      case ExprKind::Unary: {
        Type a = expr(*e.args[0]);
        return report(e.loc, typing::unary(e.name, a, &why), why);
      }
      case ExprKind::Binary: {
        Type a = expr(*e.args[0]);
        Type b = expr(*e.args[1]);
        return report(e.loc, typing::binary(e.name, a, b, &why), why);
      }
      case ExprKind::Transpose: {
        Type a = expr(*e.args[0]);
        return report(e.loc, typing::transpose(a, &why), why);
      }
      case ExprKind::Ternary: {
        Type c = expr(*e.args[0]);
        if (!c.is_error() && !c.is_int())
          err(e.args[0]->loc, "condition of ?: must be int, found " + c.str());
        Type a = expr(*e.args[1]);
        Type b = expr(*e.args[2]);
        return report(e.loc, typing::ternary(a, b, &why), why);
      }
      case ExprKind::Call: return call(e);
      case ExprKind::Index: return index(e);
      case ExprKind::ArrayLit: {
        std::vector<Type> ts;
        for (auto& a : e.args) ts.push_back(expr(*a));
        return report(e.loc, typing::array_literal(ts, &why), why);
      }
      case ExprKind::RowVectorLit: {
        std::vector<Type> ts;
        for (auto& a : e.args) ts.push_back(expr(*a));
        return report(e.loc, typing::row_vector_literal(ts, &why), why);
      }
    }
    return Type::error();
  }

  Type variable(Expr& e) {
    if (const Symbol* s = scopes_.lookup(e.name)) {
      // Compiled for a batch, the plate is the batch size: fine as a size, wrong as a number.
      if (e.name == plate_ && size_context_ == 0 && block_ != BlockKind::Data && block_ != BlockKind::TransformedData)
        err(e.loc, "the plate " + quoted(plate_) + " is the batch size when fitting by minibatches: use it for "
                   "sizes and loop bounds, not as a number");
      // Transformed data is computed once; minibatches change the plate's rows.
      if (block_ == BlockKind::TransformedData && s->origin == Origin::Data && per_datum_.count(e.name))
        err(e.loc, "transformed data cannot read " + quoted(e.name) + ": " +
                       (e.name == plate_ ? "it is the plate, whose size is the batch size when fitting by minibatches"
                                         : "it is indexed by the plate " + quoted(plate_) +
                                               ", whose rows change from batch to batch"));
      // The guide is amortised: q(z | x) reads data and networks, and the parameters
      // it has drawn already (q(z2 | z1, x): hierarchical and ladder encoders).
      if (block_ == BlockKind::Guide && !in_guide_lhs_ && s->origin == Origin::Parameters && !guided_.count(e.name))
        err(e.loc, "the guide cannot read parameter " + quoted(e.name) + " here: it reads the data, its network "
                   "and the parameters it has already drawn (give " + quoted(e.name) + " its ~ statement earlier "
                   "in the guide)");
      if (block_ == BlockKind::Guide && !in_guide_lhs_ && s->origin == Origin::TransformedParameters)
        err(e.loc, "the guide cannot read " + std::string(origin_phrase(s->origin)) + " (" + quoted(e.name) +
                       "): q is a function of the data, the guide's network and the parameters it has drawn");
      return s->type;
    }
    if (layers_.count(e.name)) {
      err(e.loc, "layer " + quoted(e.name) + " is applied to an argument: " + e.name + "(x)");
      return Type::error();
    }
    auto it = toplevel_.find(e.name);
    if (fn_ && it != toplevel_.end())
      err(e.loc, "variable " + quoted(e.name) + " is not visible in function " + quoted(fn_->name) +
                     ": a function sees only its arguments and its local variables (pass it as an argument)");
    else if (current_ && current_->name == e.name)
      err(e.loc, "variable " + quoted(e.name) + " is used in its own declaration");
    else if (it != toplevel_.end() && before(e.loc, it->second.loc) && it->second.block != block_)
      err(e.loc, "variable " + quoted(e.name) + " is declared later, in the " +
                     block_name(it->second.block) + " block (line " +
                     std::to_string(it->second.loc.line) + "), and is not visible in " + block_label());
    else if (it != toplevel_.end() && before(e.loc, it->second.loc))
      err(e.loc, "variable " + quoted(e.name) + " is used before its declaration (at line " +
                     std::to_string(it->second.loc.line) + ")");
    else if (it != toplevel_.end() && it->second.block == BlockKind::Model &&
             block_ != BlockKind::Model)
      err(e.loc, "variable " + quoted(e.name) + " is local to the model block and is not visible in " +
                     block_label());
    else if (functions_.has(e.name))
      err(e.loc, quoted(e.name) + " is a user-defined function, not a variable: call it with arguments (functions "
                                  "cannot be passed as values, so the ODE solvers and other higher-order functions "
                                  "are not supported)");
    else if (stdlib::is_known(e.name))
      err(e.loc, "variable " + quoted(e.name) + " is not defined (" + quoted(e.name) +
                     " is a function: call it with arguments)");
    else
      err(e.loc, "variable " + quoted(e.name) + " is not defined");
    return Type::error();
  }

  Type call(Expr& e) {
    if (auto it = layers_.find(e.name); it != layers_.end()) return layer_call(e, it->second);
    if (const Layer* l = inverse_of(e.name)) return layer_call(e, *l);
    std::vector<Type> args;
    bool bad = false;
    for (size_t i = 0; i < e.args.size(); ++i) {
      // rep_vector(x, N), rep_matrix(x, N, K), to_matrix(x, N * L, K), ...: the arguments after the first are sizes.
      bool sizes = i > 0 && (e.name.rfind("rep_", 0) == 0 || e.name == "to_matrix");
      size_context_ += sizes;
      args.push_back(expr(*e.args[i]));
      size_context_ -= sizes;
      bad = bad || args.back().is_error();
    }
    const std::string& n = e.name;
    if (n == "target" && args.empty()) {
      if (!target_visible())
        err(e.loc, "target() is only available in the model and transformed parameters blocks and in functions "
                   "whose names end in _lp");
      return Type::real();
    }
    // foo_lupdf(...) calls the user's foo_lpdf, without its constants.
    using functions::Suffix;
    const Suffix suffix = functions::suffix_of(n);
    std::string user = n;
    if (suffix == Suffix::Lupdf || suffix == Suffix::Lupmf)
      user = n.substr(0, n.rfind('_')) + (suffix == Suffix::Lupdf ? "_lpdf" : "_lpmf");
    const bool is_user = functions_.has(user);
    if (!is_user && !stdlib::is_known(n)) {
      err(e.loc, "unknown function " + quoted(n));
      return Type::error();
    }
    bool density = ends_with_any(n, {"_lpdf", "_lupdf", "_lpmf", "_lupmf", "_cdf", "_lcdf", "_lccdf"});
    bool misused_bar = e.conditional_bar && !density;
    if (misused_bar)
      err(e.loc, "only density and distribution functions (_lpdf, _lpmf, _lcdf, ...) use '|' between "
                 "arguments, not " + quoted(n));
    if (density && !e.conditional_bar && e.args.size() > 1)
      err(e.loc, quoted(n) + " needs '|' after its first argument: " + n + "(y | ...)");
    const bool rng_allowed = fn_ ? fn_suffix() == Suffix::Rng
                                 : block_ == BlockKind::TransformedData || block_ == BlockKind::GeneratedQuantities;
    if (suffix == Suffix::Rng && !rng_allowed)
      err(e.loc, "random number generator " + quoted(n) +
                     " is only allowed in transformed data, generated quantities and functions whose names end in "
                     "_rng, not in " + block_label());
    const bool unnormalized_allowed =
        fn_ ? fn_suffix() == Suffix::Lpdf || fn_suffix() == Suffix::Lpmf || fn_suffix() == Suffix::Lp
            : block_ == BlockKind::Model;
    if ((suffix == Suffix::Lupdf || suffix == Suffix::Lupmf) && !unnormalized_allowed)
      err(e.loc, quoted(n) + " can only be used in the model block and in _lpdf, _lpmf and _lp functions (use " +
                     n.substr(0, n.size() - 6) + (suffix == Suffix::Lupdf ? "_lpdf" : "_lpmf") + ")");
    if (suffix == Suffix::Lp && !target_visible())
      err(e.loc, "function " + quoted(n) +
                     " changes target and is only allowed in the model and transformed parameters blocks and in "
                     "functions whose names end in _lp, not in " + block_label());
    if (bad) return Type::error();
    if (is_user) {
      std::string why;
      const FunctionDef* f = functions_.resolve(user, args, &why);
      if (!f) {
        if (!misused_bar) err(e.loc, why);
        return Type::error();
      }
      e.function = f;
      std::vector<const Expr*> exprs;
      for (auto& a : e.args) exprs.push_back(a.get());
      user_call(exprs, *f);
      return f->return_type;
    }
    std::string why;
    Type t = stdlib::call_type(n, args, &why);
    if (t.is_error() && !misused_bar) {  // a misplaced '|' already explains the call
      if (why.empty()) {
        why = "no signature of " + quoted(n) + " takes (";
        for (size_t i = 0; i < args.size(); ++i) why += (i ? ", " : "") + args[i].str();
        why += ")";
      }
      err(e.loc, why);
    }
    return t;
  }

  Type index(Expr& e) {
    Type x = expr(*e.args[0]);
    std::vector<IndexKind> kinds;
    bool bad = false;
    auto int_bound = [&](ExprPtr& b) {
      if (!b) return;
      ++size_context_;
      Type t = expr(*b);
      --size_context_;
      if (t.is_error())
        bad = true;
      else if (!t.is_int()) {
        err(b->loc, "range bound must be int, found " + t.str());
        bad = true;
      }
    };
    for (auto& ix : e.indices) {
      switch (ix.kind) {
        case Index::Kind::Single: {
          Type t = expr(*ix.lower);
          if (t.is_int()) {
            kinds.push_back(IndexKind::Single);
          } else if (t.base == Base::Int && t.array_dims == 1) {
            kinds.push_back(IndexKind::Multi);
          } else {
            if (!t.is_error()) err(ix.lower->loc, "index must be int or array[] int, found " + t.str());
            bad = true;
            kinds.push_back(IndexKind::Single);
          }
          break;
        }
        case Index::Kind::Range:
          int_bound(ix.lower);
          int_bound(ix.upper);
          kinds.push_back(IndexKind::Multi);
          break;
        case Index::Kind::All: kinds.push_back(IndexKind::Multi); break;
      }
    }
    if (x.is_error()) return Type::error();
    std::string what = e.args[0]->kind == ExprKind::Var ? quoted(e.args[0]->name) : "an expression";
    std::string why;
    Type t = report(e.loc, typing::index(x, kinds, what, &why), why);
    return bad ? Type::error() : t;
  }
};

}  // namespace

void check_program(ast::Program& program) { Checker(program).run(); }

}  // namespace latent
