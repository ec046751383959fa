// Parse tree -> AST.
//
// Runs only on a parse tree without syntax errors, so every child the grammar
// requires is present. The grammar is deliberately loose in a few places so
// that this file can give precise messages; it checks:
//   - block names ("paramters" -> unknown block), order and duplicates;
//   - what each block may contain (only declarations without a value in data
//     and parameters);
//   - the unsized types of function arguments and results (`array[] real`,
//     the old `real[]`; no sizes, no constrained types) and the `data` qualifier;
//   - type sizes (vector[N], matrix[M, N], no size on int/real), unsupported
//     types, array syntax (new `array[N] real x` or old `real x[N]`, not both);
//   - constraint names and combinations (<lower, upper> or <offset, multiplier>);
//   - integer and real literals out of range.
//
// Locations: every node's `loc` is its first token (line and column, 1-based,
// columns counting Unicode code points). For a Binary node that is the start of
// its left operand, as in stanc3's spans, so `loc` is the same for all nodes
// that start at the same place. A VarDecl's loc is its name; the Decl statement
// holding it starts at the type.
#include "compiler/frontend/parse_detail.hpp"

#include <charconv>
#include <cmath>
#include <map>

namespace latent::parse_detail {

namespace {

using P = LatentParser;
using namespace latent::ast;

// Stan's block order; the rank of each block kind.
int block_rank(BlockKind kind) { return static_cast<int>(kind); }

const char* kBlockList =
    "functions, data, transformed data, network, parameters, transformed parameters, model, guide, "
    "generated quantities";

std::string unescape_string(const std::string& quoted) {
  // Drop the quotes; resolve \" \\ \n \t, keep any other escape as written.
  std::string out;
  const std::string body = quoted.size() >= 2 ? quoted.substr(1, quoted.size() - 2) : "";
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      const char c = body[++i];
      switch (c) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        default: out += '\\'; out += c; break;
      }
    } else {
      out += body[i];
    }
  }
  return out;
}

// Decimal exponent of the leading digit of a real literal's value (1.5e3 -> 3,
// 0.02 -> -2); used to tell overflow from underflow.
long decimal_magnitude(const std::string& text) {
  const size_t e = text.find_first_of("eE");
  const std::string mantissa = text.substr(0, e);
  long exponent = 0;
  if (e != std::string::npos) {
    const std::string digits = text.substr(e + 1);
    // Saturate absurd exponents instead of overflowing.
    const char* begin = digits.c_str() + (digits[0] == '+' ? 1 : 0);
    auto [ptr, ec] = std::from_chars(begin, digits.c_str() + digits.size(), exponent);
    if (ec == std::errc::result_out_of_range) exponent = digits[0] == '-' ? -100000 : 100000;
  }
  const size_t dot = mantissa.find('.');
  const std::string int_part = mantissa.substr(0, dot);
  const size_t first = int_part.find_first_not_of('0');
  if (first != std::string::npos) return static_cast<long>(int_part.size() - first) - 1 + exponent;
  const std::string frac = dot == std::string::npos ? "" : mantissa.substr(dot + 1);
  const size_t nz = frac.find_first_not_of('0');
  if (nz == std::string::npos) return 0;  // the value is zero
  return -static_cast<long>(nz) - 1 + exponent;
}

class AstBuilder {
 public:
  explicit AstBuilder(DiagnosticList& diags) : diags_(diags) {}

  std::unique_ptr<Program> program(P::ProgramContext* ctx, std::shared_ptr<const SourceFile> source) {
    auto program = std::make_unique<Program>();
    program->source = std::move(source);
    std::map<BlockKind, SourceLoc> seen;
    int highest_rank = -1;
    BlockKind highest = BlockKind::Functions;
    for (P::TopBlockContext* block_ctx : ctx->topBlock()) {
      auto* code = dynamic_cast<P::CodeBlockContext*>(block_ctx);
      std::optional<BlockKind> kind = code ? block_kind(code) : BlockKind::Functions;
      if (!kind) continue;
      const SourceLoc loc = loc_of(block_ctx->getStart());
      if (auto it = seen.find(*kind); it != seen.end()) {
        error(loc, std::string("duplicate '") + block_name(*kind) + "' block (the first one is at line " +
                       std::to_string(it->second.line) + ")");
        continue;
      }
      seen[*kind] = loc;
      if (block_rank(*kind) < highest_rank) {
        error(loc, std::string("the '") + block_name(*kind) + "' block must come before the '" +
                       block_name(highest) + "' block (blocks go in the order: " + kBlockList + ")");
      } else {
        highest_rank = block_rank(*kind);
        highest = *kind;
      }
      program->blocks.push_back(block(block_ctx, *kind));
    }
    return program;
  }

 private:
  DiagnosticList& diags_;
  bool quiet_ = false;  // set while re-building a type shared by several declarators

  void error(SourceLoc loc, std::string message) {
    if (!quiet_) diags_.error(loc, std::move(message));
  }

  // ---- blocks ----

  std::optional<BlockKind> block_kind(P::CodeBlockContext* ctx) {
    const std::string name = ctx->name->getText();
    const std::string qualifier = ctx->qualifier ? ctx->qualifier->getText() : "";
    const SourceLoc loc = loc_of(ctx->name);
    if (name == "transformed" || name == "generated") {
      const std::string want = name == "transformed" ? "'data' or 'parameters'" : "'quantities'";
      if (name == "transformed" && qualifier == "data") return BlockKind::TransformedData;
      if (name == "transformed" && qualifier == "parameters") return BlockKind::TransformedParameters;
      if (name == "generated" && qualifier == "quantities") return BlockKind::GeneratedQuantities;
      error(ctx->qualifier ? loc_of(ctx->qualifier) : loc_after(ctx->name),
            "expected " + want + " after '" + name + "'");
      return std::nullopt;
    }
    std::optional<BlockKind> kind;
    if (name == "data") kind = BlockKind::Data;
    if (name == "parameters") kind = BlockKind::Parameters;
    if (name == "model") kind = BlockKind::Model;
    if (name == "network") kind = BlockKind::Network;
    if (name == "guide") kind = BlockKind::Guide;
    if (!kind) {
      error(loc, "unknown block '" + name + "'; the blocks are: " + kBlockList);
      return std::nullopt;
    }
    if (ctx->qualifier) {
      error(loc_of(ctx->qualifier), "unexpected '" + qualifier + "' after '" + name + "', expected '{'");
      return std::nullopt;
    }
    return kind;
  }

  Block block(P::TopBlockContext* ctx, BlockKind kind) {
    Block block;
    block.kind = kind;
    block.loc = loc_of(ctx->getStart());
    if (auto* functions = dynamic_cast<P::FunctionsBlockContext*>(ctx)) {
      for (P::FunctionDefContext* f : functions->functionDef()) block.functions.push_back(function_def(f));
      return block;
    }
    block_items(ctx, block.stmts);
    network_items(static_cast<P::CodeBlockContext*>(ctx), block);
    if (kind == BlockKind::Data || kind == BlockKind::Parameters || kind == BlockKind::Network) {
      // These blocks only declare variables, whose values come from outside.
      for (const StmtPtr& stmt : block.stmts) {
        if (stmt->kind != StmtKind::Decl)
          error(stmt->loc, std::string("only variable declarations are allowed in the '") + block_name(kind) +
                               "' block");
        else if (stmt->decl->init)
          error(stmt->decl->init->loc,
                std::string("variables in the '") + block_name(kind) + "' block cannot be given a value");
      }
    }
    return block;
  }

  // Layers of a network block, and the guide's own `network { ... }`.
  void network_items(P::CodeBlockContext* ctx, Block& block) {
    for (P::LayerDeclContext* l : ctx->layerDecl()) {
      if (block.kind == BlockKind::Network)
        block.layers.push_back(layer(l));
      else
        error(loc_of(l->getStart()), std::string("layers are declared in a 'network' block, not in the '") +
                                         block_name(block.kind) + "' block");
    }
    bool seen = false;
    for (P::InnerBlockContext* inner : ctx->innerBlock()) {
      const SourceLoc loc = loc_of(inner->name);
      if (block.kind != BlockKind::Guide || inner->name->getText() != "network") {
        error(loc, "unexpected '" + inner->name->getText() + " { ... }' here; only the guide block holds a "
                   "nested 'network { ... }' block");
        continue;
      }
      if (seen) error(loc, "the guide has one 'network' block");
      seen = true;
      for (P::LayerDeclContext* l : inner->layerDecl()) block.layers.push_back(layer(l));
    }
  }

  LayerDecl layer(P::LayerDeclContext* ctx) {
    LayerDecl l;
    l.loc = loc_of(ctx->name);
    l.kind = ctx->kind->getText();
    l.name = ctx->name->getText();
    for (auto* e : ctx->args) l.args.push_back(expression(e));
    if (l.kind == "dense") {
      if (l.args.size() != 2 && l.args.size() != 3)
        error(l.loc, "'dense' takes two sizes and an optional mask, as in 'dense " + l.name + "(in, out);' or 'dense " +
                         l.name + "(in, out, mask);'");
    } else if (l.kind == "affine_coupling") {
      if (l.args.size() != 3)
        error(l.loc, "'affine_coupling' takes the data size, the hidden size and the mask of the values it keeps, "
                     "as in 'affine_coupling " + l.name + "(D, 64, keep);'");
    } else if (l.kind == "flow") {
      if (l.args.empty()) error(l.loc, "a flow names its layers, as in 'flow " + l.name + "(c1, c2);'");
      for (const ExprPtr& a : l.args)
        if (a->kind != ExprKind::Var)
          error(a->loc, "a flow's arguments are the names of its layers (affine_coupling or flow), in the order "
                        "they apply to a base draw");
    } else {
      error(loc_of(ctx->kind), "unknown layer '" + l.kind + "'; the layers are: dense(in, out), dense(in, out, mask), "
                               "affine_coupling(D, hidden, keep) and flow(layer, ...)");
    }
    return l;
  }

  // ---- user-defined functions ----

  FunctionDef function_def(P::FunctionDefContext* ctx) {
    FunctionDef f;
    f.loc = loc_of(ctx->IDENT()->getSymbol());
    f.name = ctx->IDENT()->getText();
    f.return_type = unsized_type(ctx->unsizedType(), true);
    for (P::FunArgContext* a : ctx->funArg()) {
      FunctionArg arg;
      antlr4::tree::TerminalNode* name = a->IDENT().back();  // after the qualifier, if any
      arg.loc = loc_of(name->getSymbol());
      arg.name = name->getText();
      arg.type = unsized_type(a->unsizedType(), false);
      if (a->typeConstraint())
        error(loc_of(a->typeConstraint()->getStart()),
              "function arguments have no constraints: write '" + a->unsizedType()->getText() + " " + arg.name + "'");
      if (a->qualifier) {
        if (a->qualifier->getText() == "data")
          arg.data_only = true;
        else
          error(loc_of(a->qualifier), "unknown qualifier '" + a->qualifier->getText() +
                                          "'; the only argument qualifier is 'data'");
      }
      f.args.push_back(std::move(arg));
    }
    // `real f(real x);` is a declaration: its ';' parses as the empty statement.
    if (ctx->statement() && !dynamic_cast<P::EmptyStmtContext*>(ctx->statement()))
      f.body = statement(ctx->statement());
    return f;
  }

  // `real`, `array[,] int`, `vector`, the old `real[]`: a type without sizes or constraints.
  Type unsized_type(P::UnsizedTypeContext* ctx, bool is_return) {
    if (ctx->VOID()) {
      if (!is_return) error(loc_of(ctx->getStart()), "a function argument cannot be void");
      return is_return ? Type::void_() : Type::error();
    }
    antlr4::Token* name = ctx->typeName()->getStart();
    Type t;
    switch (name->getType()) {
      case P::INT: t = Type::int_(); break;
      case P::REAL: t = Type::real(); break;
      case P::VECTOR: t = Type::vector(); break;
      case P::ROW_VECTOR: t = Type::row_vector(); break;
      case P::MATRIX: t = Type::matrix(); break;
      case P::SIMPLEX:
      case P::ORDERED:
      case P::POSITIVE_ORDERED:
      case P::UNIT_VECTOR:
      case P::SUM_TO_ZERO_VECTOR:
        error(loc_of(name), std::string("function ") + (is_return ? "return types" : "arguments") +
                                " are unconstrained: use 'vector', not '" + name->getText() + "'");
        return Type::error();
      case P::CHOLESKY_FACTOR_CORR:
      case P::COV_MATRIX:
      case P::CORR_MATRIX:
      case P::CHOLESKY_FACTOR_COV:
        error(loc_of(name), std::string("function ") + (is_return ? "return types" : "arguments") +
                                " are unconstrained: use 'matrix', not '" + name->getText() + "'");
        return Type::error();
      default:
        error(loc_of(name), "type '" + name->getText() + "' is not supported yet");
        return Type::error();
    }
    // `array[,] real` has one more dimension than it has commas; so has the old `real[,]`.
    const bool array = ctx->ARRAY() != nullptr || ctx->LBRACK() != nullptr;
    if (array) t.array_dims = static_cast<int>(ctx->COMMA().size()) + 1;
    return t;
  }

  // ---- declarations ----

  // One VarDecl per declarator: `real x, y = 1;` appends two Decl statements.
  // The shared type is rebuilt for each declarator; its diagnostics are
  // reported for the first declarator only.
  void declaration(P::VarDeclContext* ctx, std::vector<StmtPtr>& out) {
    bool first = true;
    for (P::DeclaratorContext* declarator : ctx->declarator()) {
      auto stmt = make_stmt(StmtKind::Decl, ctx->getStart());
      stmt->decl = var_decl(ctx, declarator, first);
      out.push_back(std::move(stmt));
      first = false;
    }
  }

  std::unique_ptr<VarDecl> var_decl(P::VarDeclContext* ctx, P::DeclaratorContext* declarator,
                                    bool report_type_errors) {
    auto decl = std::make_unique<VarDecl>();
    decl->loc = loc_of(declarator->IDENT()->getSymbol());
    decl->name = declarator->IDENT()->getText();
    antlr4::Token* type_token = ctx->typeName()->getStart();
    const std::string type_name = type_token->getText();

    // The type shared by all declarators: base, sizes, new-style array sizes, constraint.
    const bool was_quiet = quiet_;
    quiet_ = quiet_ || !report_type_errors;
    bool supported = true;
    decl->base = base_type(type_token, &supported);
    for (auto* e : ctx->typeSizes) decl->sizes.push_back(expression(e));
    const size_t want = decl->base == BaseType::Int || decl->base == BaseType::Real ? 0
                        : decl->base == BaseType::Matrix                          ? 2
                                                                                  : 1;
    // An unsupported type (reported once by base_type) says nothing of its sizes.
    // cholesky_factor_cov[M, N] (M >= N) or cholesky_factor_cov[M] (square).
    bool cov_factor_sizes = decl->base == BaseType::CholeskyFactorCov && decl->sizes.size() == 2;
    if (supported && decl->sizes.size() != want && !cov_factor_sizes) {
      const SourceLoc at = ctx->typeSizes.empty() ? loc_after(type_token) : loc_of(ctx->typeSizes[0]->getStart());
      if (want == 0)
        error(at, "'" + type_name + "' takes no size; for an array write 'array[N] " + type_name + " " +
                      decl->name + "'");
      else if (want == 1)
        error(at, "'" + type_name + "' needs one size, as in '" + type_name + "[N] " + decl->name + "'");
      else
        error(at, "'" + type_name + "' needs two sizes, as in '" + type_name + "[M, N] " + decl->name + "'");
    }
    for (auto* e : ctx->arraySizes) decl->array_sizes.push_back(expression(e));
    if (auto* c = ctx->typeConstraint())
      decl->constraint = constraint(c, decl->base, type_name, decl->array_sizes.empty() && ctx->arraySizes.empty(),
                                    &decl->plate, decl.get());
    quiet_ = was_quiet;

    // This declarator's own parts: old-style array sizes and the value.
    if (!declarator->dims.empty()) {
      if (!ctx->arraySizes.empty())
        error(loc_of(declarator->dims[0]->getStart()),
              "array sizes given twice: use either 'array[...] " + type_name + " " + decl->name +
                  "' or the old form '" + type_name + " " + decl->name + "[...]', not both");
      for (auto* e : declarator->dims) decl->array_sizes.push_back(expression(e));
    }
    if (declarator->init) decl->init = expression(declarator->init);
    return decl;
  }

  BaseType base_type(antlr4::Token* token, bool* supported) {
    switch (token->getType()) {
      case P::INT: return BaseType::Int;
      case P::REAL: return BaseType::Real;
      case P::VECTOR: return BaseType::Vector;
      case P::ROW_VECTOR: return BaseType::RowVector;
      case P::MATRIX: return BaseType::Matrix;
      case P::SIMPLEX: return BaseType::Simplex;
      case P::CHOLESKY_FACTOR_CORR: return BaseType::CholeskyFactorCorr;
      case P::ORDERED: return BaseType::Ordered;
      case P::POSITIVE_ORDERED: return BaseType::PositiveOrdered;
      case P::CORR_MATRIX: return BaseType::CorrMatrix;
      case P::COV_MATRIX: return BaseType::CovMatrix;
      case P::CHOLESKY_FACTOR_COV: return BaseType::CholeskyFactorCov;
      case P::UNIT_VECTOR: return BaseType::UnitVector;
      case P::SUM_TO_ZERO_VECTOR: return BaseType::SumToZeroVector;
      default:
        error(loc_of(token), "type '" + token->getText() + "' is not supported yet");
        *supported = false;
        return BaseType::Real;
    }
  }

  Constraint constraint(P::TypeConstraintContext* ctx, BaseType base, const std::string& type_name,
                        bool scalar, bool* plate, VarDecl* decl) {
    Constraint c;
    const SourceLoc loc = loc_of(ctx->getStart());
    if (base == BaseType::Simplex || base == BaseType::CholeskyFactorCorr || base == BaseType::Ordered ||
        base == BaseType::PositiveOrdered || base == BaseType::CorrMatrix || base == BaseType::CovMatrix ||
        base == BaseType::CholeskyFactorCov || base == BaseType::UnitVector || base == BaseType::SumToZeroVector) {
      error(loc, "'" + type_name + "' cannot have <...> constraints: the type already constrains its values");
      return c;
    }
    for (P::ConstraintItemContext* item : ctx->constraintItem()) {
      const std::string name = item->IDENT()->getText();
      const SourceLoc item_loc = loc_of(item->getStart());
      if (name == "plate") {
        if (item->arithExpr()) error(item_loc, "'plate' takes no value: write 'int<plate> N'");
        if (base != BaseType::Int || !scalar) error(item_loc, "only an 'int' size can be a plate: 'int<plate> N'");
        *plate = true;
        continue;
      }
      if (!item->arithExpr()) {
        error(item_loc, "expected '=' and a value after '" + name + "'");
        continue;
      }
      if (name == "init") {  // a network weight's initialiser: a scheme's name or a number
        if (!decl->init_scheme.empty()) error(item_loc, "'init' is given twice");
        decl->init_loc = item_loc;
        const std::string text = item->arithExpr()->getText();
        static const char* const kSchemes[] = {"uniform", "pytorch", "glorot", "zeros"};
        bool named = false;
        for (const char* scheme : kSchemes) named |= text == scheme;
        if (named) {
          decl->init_scheme = text;
        } else if (item->arithExpr()->getStart() == item->arithExpr()->getStop() &&
                   item->arithExpr()->getStart()->getType() == P::IDENT) {  // a name that is no scheme
          error(loc_of(item->arithExpr()->getStart()),
                "unknown initialiser '" + text + "'; expected uniform, pytorch, glorot, zeros or a number "
                "(the half-width of a uniform)");
        } else {
          decl->init_scheme = "bound";
          decl->init_bound = arith(item->arithExpr());
        }
        continue;
      }
      ExprPtr* slot = name == "lower"        ? &c.lower
                      : name == "upper"      ? &c.upper
                      : name == "offset"     ? &c.offset
                      : name == "multiplier" ? &c.multiplier
                                             : nullptr;
      if (slot == nullptr) {
        error(item_loc, "unknown constraint '" + name + "'; expected lower, upper, offset, multiplier or (for a "
                        "network weight) init");
        continue;
      }
      if (*slot) {
        error(item_loc, "'" + name + "' is given twice");
        continue;
      }
      *slot = arith(item->arithExpr());
    }
    const bool bounds = c.lower || c.upper;
    const bool affine = c.offset || c.multiplier;
    if (bounds && affine)
      error(loc, "a declaration cannot have both lower/upper bounds and offset/multiplier");
    if (affine && base == BaseType::Int) error(loc, "'int' cannot have an offset or multiplier");
    return c;
  }

  // ---- statements ----

  StmtPtr make_stmt(StmtKind kind, antlr4::Token* start) {
    auto s = std::make_unique<Stmt>();
    s->kind = kind;
    s->loc = loc_of(start);
    return s;
  }

  // `{ ... }` bodies and the statement lists of nested blocks.
  void block_items(antlr4::ParserRuleContext* ctx, std::vector<StmtPtr>& out) {
    for (antlr4::tree::ParseTree* child : ctx->children) {
      if (auto* d = dynamic_cast<P::VarDeclContext*>(child))
        declaration(d, out);
      else if (auto* s = dynamic_cast<P::StatementContext*>(child))
        out.push_back(statement(s));
    }
  }

  std::vector<ExprPtr> printables(const std::vector<P::PrintableContext*>& items) {
    std::vector<ExprPtr> out;
    for (auto* p : items) {
      if (p->STRING()) {
        auto e = make_expr(ExprKind::StringLit, p->getStart());
        e->name = unescape_string(p->STRING()->getText());
        out.push_back(std::move(e));
      } else {
        out.push_back(expression(p->expression()));
      }
    }
    return out;
  }

  StmtPtr statement(P::StatementContext* ctx) {
    antlr4::Token* start = ctx->getStart();
    if (auto* c = dynamic_cast<P::ExprStmtContext*>(ctx)) return expression_statement(c);
    if (auto* c = dynamic_cast<P::TargetStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::TargetPlus, start);
      if (c->assignOp()->getText() != "+=")
        error(loc_of(c->assignOp()->getStart()), "'target' can only be incremented, with 'target += ...;'");
      s->rhs = expression(c->expression());
      return s;
    }
    if (auto* c = dynamic_cast<P::ForStmtContext*>(ctx)) {
      auto s = make_stmt(c->hi ? StmtKind::For : StmtKind::Foreach, start);
      s->loop_var = c->IDENT()->getText();
      s->lower = expression(c->lo);  // Foreach: the container
      if (c->hi) s->upper = expression(c->hi);
      s->body = statement(c->statement());
      return s;
    }
    if (auto* c = dynamic_cast<P::WhileStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::While, start);
      s->cond = expression(c->expression());
      s->body = statement(c->statement());
      return s;
    }
    if (auto* c = dynamic_cast<P::IfStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::If, start);
      s->cond = expression(c->expression());
      s->body = statement(c->then);
      if (c->otherwise) s->else_body = statement(c->otherwise);
      return s;
    }
    if (auto* c = dynamic_cast<P::BlockStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::Block, start);
      block_items(c, s->stmts);
      return s;
    }
    if (auto* c = dynamic_cast<P::PrintStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::Print, start);
      s->args = printables(c->printable());
      return s;
    }
    if (auto* c = dynamic_cast<P::RejectStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::Reject, start);
      s->args = printables(c->printable());
      return s;
    }
    if (dynamic_cast<P::BreakStmtContext*>(ctx)) return make_stmt(StmtKind::Break, start);
    if (dynamic_cast<P::ContinueStmtContext*>(ctx)) return make_stmt(StmtKind::Continue, start);
    if (auto* c = dynamic_cast<P::ReturnStmtContext*>(ctx)) {
      auto s = make_stmt(StmtKind::Return, start);
      if (c->expression()) s->rhs = expression(c->expression());
      return s;
    }
    return make_stmt(StmtKind::Empty, start);  // EmptyStmtContext
  }

  // `lhs = value;`, `lhs ~ dist(args);` or a bare function call `f(args);`.
  StmtPtr expression_statement(P::ExprStmtContext* ctx) {
    antlr4::Token* start = ctx->getStart();
    if (ctx->assignOp()) {
      auto s = make_stmt(StmtKind::Assign, start);
      s->lhs = expression(ctx->lhs);
      s->op = ctx->assignOp()->getText();
      s->rhs = expression(ctx->value);
      if (!assignable(*s->lhs))
        error(s->lhs->loc, "cannot assign to this expression: the left side of '" + s->op +
                               "' must be a variable, possibly indexed (x, x[i], x[i, j])");
      return s;
    }
    if (ctx->dist) {
      auto s = make_stmt(StmtKind::Tilde, start);
      s->lhs = expression(ctx->lhs);
      s->dist = ctx->dist->getText();
      for (auto* a : ctx->args) s->args.push_back(expression(a));
      if (auto* t = ctx->truncation()) {
        if (t->IDENT()->getText() != "T")
          error(loc_of(t->getStart()), "unexpected '" + t->IDENT()->getText() +
                                           "' after the distribution; truncation is written T[lower, upper]");
        s->truncated = true;
        if (t->lo) s->truncate_lower = expression(t->lo);
        if (t->hi) s->truncate_upper = expression(t->hi);
      }
      return s;
    }
    auto s = make_stmt(StmtKind::Expression, start);
    s->rhs = expression(ctx->lhs);
    if (s->rhs->kind != ExprKind::Call)
      error(s->rhs->loc,
            "an expression on its own is not a statement; assign it ('x = ...;'), add it to the target "
            "('target += ...;') or call a function");
    return s;
  }

  // A variable, possibly indexed: x, x[i], x[i][j, k] (Stan allows nothing else).
  static bool assignable(const Expr& e) {
    if (e.kind == ExprKind::Var) return true;
    return e.kind == ExprKind::Index && assignable(*e.args[0]);
  }

  // ---- expressions ----

  ExprPtr make_expr(ExprKind kind, antlr4::Token* start) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = loc_of(start);
    return e;
  }

  ExprPtr expression(P::ExpressionContext* ctx) {
    if (auto* c = dynamic_cast<P::ArithOperandContext*>(ctx)) return arith(c->arithExpr());
    if (auto* c = dynamic_cast<P::ExprBinaryContext*>(ctx)) {
      auto e = make_expr(ExprKind::Binary, ctx->getStart());
      e->name = c->op->getText();
      e->args.push_back(expression(c->expression(0)));
      e->args.push_back(expression(c->expression(1)));
      return e;
    }
    auto* c = static_cast<P::TernaryContext*>(ctx);
    auto e = make_expr(ExprKind::Ternary, ctx->getStart());
    for (int i = 0; i < 3; ++i) e->args.push_back(expression(c->expression(i)));
    return e;
  }

  ExprPtr arith(P::ArithExprContext* ctx) {
    antlr4::Token* start = ctx->getStart();
    if (auto* c = dynamic_cast<P::ArithBinaryContext*>(ctx)) {
      auto e = make_expr(ExprKind::Binary, start);
      e->name = c->op->getText();
      e->args.push_back(arith(c->arithExpr(0)));
      e->args.push_back(arith(c->arithExpr(1)));
      return e;
    }
    if (auto* c = dynamic_cast<P::UnaryContext*>(ctx)) {
      auto e = make_expr(ExprKind::Unary, start);
      e->name = c->op->getText();
      e->args.push_back(arith(c->arithExpr()));
      return e;
    }
    if (auto* c = dynamic_cast<P::TransposeContext*>(ctx)) {
      auto e = make_expr(ExprKind::Transpose, start);
      e->args.push_back(arith(c->arithExpr()));
      return e;
    }
    if (auto* c = dynamic_cast<P::IndexExprContext*>(ctx)) {
      auto e = make_expr(ExprKind::Index, start);
      e->args.push_back(arith(c->arithExpr()));
      e->indices = indexes(c->indexes());
      return e;
    }
    if (dynamic_cast<P::IntLitContext*>(ctx)) return int_literal(start);
    if (dynamic_cast<P::RealLitContext*>(ctx)) return real_literal(start);
    if (auto* c = dynamic_cast<P::CallExprContext*>(ctx)) return call(c->call());
    if (dynamic_cast<P::TargetCallContext*>(ctx)) {
      auto e = make_expr(ExprKind::Call, start);
      e->name = "target";
      return e;
    }
    if (dynamic_cast<P::VarContext*>(ctx)) {
      auto e = make_expr(ExprKind::Var, start);
      e->name = start->getText();
      return e;
    }
    if (auto* c = dynamic_cast<P::ParenContext*>(ctx)) return expression(c->expression());
    if (auto* c = dynamic_cast<P::ArrayLitContext*>(ctx)) {
      auto e = make_expr(ExprKind::ArrayLit, start);
      for (auto* a : c->expression()) e->args.push_back(expression(a));
      return e;
    }
    auto* c = static_cast<P::RowVectorLitContext*>(ctx);
    auto e = make_expr(ExprKind::RowVectorLit, start);
    for (auto* a : c->expression()) e->args.push_back(expression(a));
    return e;
  }

  ExprPtr call(P::CallContext* ctx) {
    auto e = make_expr(ExprKind::Call, ctx->getStart());
    e->name = ctx->IDENT()->getText();
    e->conditional_bar = ctx->bar != nullptr;
    for (auto* a : ctx->args) e->args.push_back(expression(a));
    return e;
  }

  std::vector<Index> indexes(P::IndexesContext* ctx) {
    std::vector<Index> out;
    for (P::IndexContext* i : ctx->index()) {
      Index index;
      if (i->colon == nullptr && i->lo != nullptr) {
        index.kind = Index::Kind::Single;
        index.lower = expression(i->lo);
      } else if (i->lo != nullptr || i->hi != nullptr) {
        index.kind = Index::Kind::Range;
        if (i->lo) index.lower = expression(i->lo);
        if (i->hi) index.upper = expression(i->hi);
      } else {
        index.kind = Index::Kind::All;  // a[:] or an omitted index a[, j]
      }
      out.push_back(std::move(index));
    }
    return out;
  }

  ExprPtr int_literal(antlr4::Token* token) {
    auto e = make_expr(ExprKind::IntLit, token);
    const std::string text = token->getText();
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), e->int_value);
    if (ec != std::errc() || ptr != text.data() + text.size())
      error(e->loc, "integer literal " + text + " is too large (the largest integer is " +
                        std::to_string(std::numeric_limits<long long>::max()) + ")");
    return e;
  }

  ExprPtr real_literal(antlr4::Token* token) {
    auto e = make_expr(ExprKind::RealLit, token);
    std::string text = token->getText();
    // from_chars does not accept "2." or ".5" in every libstdc++ version alike; normalise.
    std::string normal = text;
    if (normal[0] == '.') normal = "0" + normal;
    auto [ptr, ec] = std::from_chars(normal.data(), normal.data() + normal.size(), e->real_value);
    if (ec == std::errc::result_out_of_range) {
      if (decimal_magnitude(text) > 0)
        error(e->loc, "real literal " + text + " is too large for a double");
      else
        e->real_value = 0.0;  // underflow: the nearest double is (close to) zero
    } else if (ec != std::errc() || ptr != normal.data() + normal.size()) {
      error(e->loc, "malformed real literal " + text);
    }
    return e;
  }
};

}  // namespace

std::unique_ptr<Program> build_program(LatentParser::ProgramContext* tree, std::shared_ptr<const SourceFile> source,
                                       DiagnosticList& diags) {
  AstBuilder builder(diags);
  return builder.program(tree, std::move(source));
}

}  // namespace latent::parse_detail
