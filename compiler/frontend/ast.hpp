// The abstract syntax tree of a latent/Stan program.
//
// Built from the ANTLR parse tree by parse.cpp, annotated by check.cpp (every
// Expr gets its `type`), lowered to the IR by compiler/lower. Plain structs with
// owning pointers: the tree is built once and only read afterwards.
#pragma once

#include "common/source.hpp"
#include "compiler/frontend/types.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace latent::ast {

struct Expr;
struct Stmt;
struct FunctionDef;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;

enum class ExprKind {
  IntLit,      // int_value
  RealLit,     // real_value
  StringLit,   // name holds the text (only inside print/reject)
  Var,         // name
  Unary,       // op in {"-", "!", "+"}, args[0]
  Binary,      // op in {"+","-","*","/","%","\\","^",".*","./","==","!=","<","<=",">",">=","&&","||"}, args[0..1]
  Transpose,   // args[0]'
  Ternary,     // args[0] ? args[1] : args[2]
  Call,        // name(args...); for foo_lpdf(y | a, b) args = {y, a, b}, conditional_bar = true
  Index,       // args[0][indices...]
  ArrayLit,    // { args... }
  RowVectorLit // [ args... ]
};

// One index inside brackets: a[i], a[i:j], a[:j], a[i:], a[:], a[idxs]
struct Index {
  enum class Kind { Single, Range, All } kind = Kind::Single;
  ExprPtr lower;  // Single: the index (may be an int array = multi-index); Range: may be null
  ExprPtr upper;  // Range only; may be null
};

struct Expr {
  ExprKind kind;
  SourceLoc loc;
  std::string name;  // Var, Call, StringLit; op for Unary/Binary
  long long int_value = 0;
  double real_value = 0;
  bool conditional_bar = false;  // Call written with '|'
  std::vector<ExprPtr> args;
  std::vector<Index> indices;  // Index only
  Type type;                   // filled by the checker
  const FunctionDef* function = nullptr;  // Call of a user-defined function: its definition (checker)
};

// <lower=, upper=, offset=, multiplier=> on a declaration
struct Constraint {
  ExprPtr lower, upper, offset, multiplier;
  bool empty() const { return !lower && !upper && !offset && !multiplier; }
};

enum class BaseType {
  Int, Real, Vector, RowVector, Matrix, Simplex, CholeskyFactorCorr, Ordered, PositiveOrdered,
  CorrMatrix, CovMatrix, CholeskyFactorCov, UnitVector, SumToZeroVector
};

struct VarDecl {
  SourceLoc loc;
  std::string name;
  BaseType base = BaseType::Real;
  Constraint constraint;
  std::vector<ExprPtr> sizes;        // vector[n]: {n}; matrix[m,n]: {m,n}
  std::vector<ExprPtr> array_sizes;  // array[a,b] T or T x[a,b] (old form)
  ExprPtr init;                      // local / transformed declarations may have "= expr"
  bool plate = false;                // `int<plate> N`: the subsampled data dimension
  // `matrix<init=glorot>[D, H] W;` in a network block: how the weight starts. A
  // scheme (uniform, pytorch, glorot, zeros) or a number, the half-width of a uniform.
  std::string init_scheme;           // "" when not given
  ExprPtr init_bound;                // the number, when given as one
  SourceLoc init_loc;
  Type type;                         // filled by the checker
};

enum class StmtKind {
  Decl,        // decl
  Assign,      // lhs op rhs: op in {"=","+=","-=","*=","/=",".*=","./="}
  Tilde,       // lhs ~ dist(args) [T[...] later]; call->name is the distribution name
  TargetPlus,  // target += expr
  For,         // for (loop_var in lower:upper) body
  Foreach,     // for (loop_var in expr) body
  While,       // while (cond) body
  If,          // if (cond) body else else_body
  Block,       // { stmts }
  Print,       // print(args)
  Reject,      // reject(args)
  Break,
  Continue,
  Return,      // return [rhs]; (in a function body)
  Expression,  // a bare function call statement
  Empty
};

struct Stmt {
  StmtKind kind;
  SourceLoc loc;
  std::unique_ptr<VarDecl> decl;  // Decl
  ExprPtr lhs;                    // Assign (a Var or Index expr), Tilde (the variate)
  std::string op;                 // Assign
  ExprPtr rhs;                    // Assign value, TargetPlus value, Expression
  std::string dist;               // Tilde: distribution name, e.g. normal
  std::vector<ExprPtr> args;      // Tilde: distribution arguments; Print/Reject arguments
  std::string loop_var;           // For, Foreach
  ExprPtr lower, upper;           // For bounds; Foreach: lower is the container
  ExprPtr cond;                   // While, If
  StmtPtr body, else_body;        // For, Foreach, While, If
  std::vector<StmtPtr> stmts;     // Block
  const FunctionDef* function = nullptr;  // Tilde of a user-defined distribution: its _lpdf/_lpmf (checker)
  // Tilde with T[lower, upper]: truncated is set, and either bound may be null (T[L, ], T[, U]).
  bool truncated = false;
  ExprPtr truncate_lower, truncate_upper;
};

// One argument of a user-defined function: `data real x`, `array[] vector y`.
struct FunctionArg {
  SourceLoc loc;  // the name
  std::string name;
  Type type;               // unsized: base and array dims
  bool data_only = false;  // `data`: the argument may not depend on parameters
};

// `real f(real x, data vector y) { ... }`, or a forward declaration without a body.
struct FunctionDef {
  SourceLoc loc;  // the name
  std::string name;
  Type return_type;  // Type::void_() for void
  std::vector<FunctionArg> args;
  StmtPtr body;      // null: a declaration, defined later
  // Filled by the checker: the function is part of a cycle of calls, or calls
  // (directly or through others) a function that is. Loops calling such a
  // function are unrolled, so that the recursion sees known values.
  bool reaches_recursion = false;
};

// In source order (the order blocks must appear in).
enum class BlockKind {
  Functions,
  Data,
  TransformedData,
  Network,  // learnable deterministic weights without a prior (layers)
  Parameters,
  TransformedParameters,
  Model,
  Guide,    // q(parameters | data): the variational family, with its own network
  GeneratedQuantities
};

// `dense enc_h(D, 400);`: a layer of learnable weights in a network block.
struct LayerDecl {
  SourceLoc loc;
  std::string kind;  // "dense"
  std::string name;
  std::vector<ExprPtr> args;  // dense: in, out
};

const char* block_name(BlockKind kind);

struct Block {
  BlockKind kind;
  SourceLoc loc;
  std::vector<StmtPtr> stmts;  // data/parameters blocks hold Decl statements only
  std::vector<LayerDecl> layers;  // network block; the guide's own `network { }`
  std::vector<FunctionDef> functions;  // functions block, in source order
};

struct Program {
  std::shared_ptr<const SourceFile> source;
  std::vector<Block> blocks;  // in source order, at most one of each kind
  const Block* find(BlockKind kind) const;
};

}  // namespace latent::ast
