// Parser tests: source text -> AST shape, operator precedence, declarations,
// statements, locations, and malformed input (always a UserError with
// "file:line:col", never a crash; the messages are golden tests in
// tests/golden/bad/syntax/).
#define BOOST_TEST_MODULE parser
#include <boost/test/unit_test.hpp>

#include "compiler/frontend/frontend.hpp"

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

using namespace latent;
using namespace latent::ast;

namespace {

std::shared_ptr<const SourceFile> source(const std::string& text, const std::string& path = "test.stan") {
  auto file = std::make_shared<SourceFile>();
  file->path = path;
  file->text = text;
  return file;
}

std::unique_ptr<Program> parse(const std::string& text) { return parse_program(source(text)); }

// The message of the UserError that parsing `text` throws ("" if none).
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

std::string shorten(const std::string& s) { return s.size() > 300 ? s.substr(0, 300) + "..." : s; }

// Checks that parsing fails with a message containing `where` ("test.stan:L:C",
// or "test.stan:L:" for any column) followed by ": error: ", and `what`.
void expect_error(const std::string& text, const std::string& where, const std::string& what) {
  const std::string message = parse_error(text);
  BOOST_TEST_CONTEXT("source: " << shorten(text) << "\nmessage: " << shorten(message)) {
    BOOST_TEST(!message.empty());
    if (where.back() == ':') {
      BOOST_TEST(message.find(where) != std::string::npos);
    } else {
      BOOST_TEST(message.find(where + ": error: ") != std::string::npos);
    }
    BOOST_TEST(message.find(what) != std::string::npos);
  }
}

// An s-expression for an expression: (+ 1 (* 2 3)), (idx a 1 2:_ :), (call f | y mu).
std::string sexpr(const Expr& e);
std::string sexpr(const ExprPtr& e) { return e ? sexpr(*e) : "_"; }
std::string sexpr(const Expr& e) {
  std::ostringstream out;
  auto args = [&]() {
    for (const auto& a : e.args) out << " " << sexpr(a);
  };
  switch (e.kind) {
    case ExprKind::IntLit: out << e.int_value; break;
    case ExprKind::RealLit: out << e.real_value; break;
    case ExprKind::StringLit: out << '"' << e.name << '"'; break;
    case ExprKind::Var: out << e.name; break;
    case ExprKind::Unary:
    case ExprKind::Binary: out << "(" << e.name; args(); out << ")"; break;
    case ExprKind::Transpose: out << "(T"; args(); out << ")"; break;
    case ExprKind::Ternary: out << "(?"; args(); out << ")"; break;
    case ExprKind::Call: out << "(call " << e.name << (e.conditional_bar ? " |" : ""); args(); out << ")"; break;
    case ExprKind::ArrayLit: out << "{"; args(); out << " }"; break;
    case ExprKind::RowVectorLit: out << "["; args(); out << " ]"; break;
    case ExprKind::Index:
      out << "(idx " << sexpr(e.args[0]);
      for (const auto& i : e.indices) {
        if (i.kind == Index::Kind::Single) out << " " << sexpr(i.lower);
        else if (i.kind == Index::Kind::All) out << " :";
        else out << " " << sexpr(i.lower) << ":" << sexpr(i.upper);
      }
      out << ")";
      break;
  }
  return out.str();
}

// The right-hand side of `x = <text>;` in a model block, as an s-expression.
std::string expr(const std::string& text) {
  auto program = parse("model { x = " + text + "; }");
  const Stmt& s = *program->blocks.at(0).stmts.at(0);
  BOOST_REQUIRE(s.kind == StmtKind::Assign);
  return sexpr(s.rhs);
}

// The statements of the only block of `text`.
const std::vector<StmtPtr>& stmts(const Program& p) { return p.blocks.at(0).stmts; }

const VarDecl& decl(const Program& p, size_t i) {
  const Stmt& s = *stmts(p).at(i);
  BOOST_REQUIRE(s.kind == StmtKind::Decl);
  return *s.decl;
}

std::string sizes(const std::vector<ExprPtr>& v) {
  std::string out;
  for (const auto& e : v) out += (out.empty() ? "" : ",") + sexpr(e);
  return out;
}

const char* kEightSchools = R"(// Eight schools, non-centred parameterisation.
data {
  int<lower=0> J;             // number of schools
  array[J] real y;            # estimated treatment effects
  array[J] real<lower=0> sigma;
}
parameters {
  real mu;
  real<lower=0> tau;
  vector[J] theta_tilde;
}
transformed parameters {
  vector[J] theta = mu + tau * theta_tilde;
}
model {
  /* priors */
  mu ~ normal(0, 5);
  tau ~ cauchy(0, 5);
  theta_tilde ~ normal(0, 1);
  y ~ normal(theta, sigma);
}
generated quantities {
  array[J] real y_rep;
  for (j in 1:J) {
    y_rep[j] = normal_rng(theta[j], sigma[j]);
  }
  real log_lik = normal_lpdf(y | theta, sigma);
}
)";

}  // namespace

// ---------------------------------------------------------------------------
// Whole programs

BOOST_AUTO_TEST_CASE(eight_schools_shape) {
  auto p = parse(kEightSchools);
  BOOST_REQUIRE_EQUAL(p->blocks.size(), 5u);
  BOOST_TEST((p->blocks[0].kind == BlockKind::Data));
  BOOST_TEST((p->blocks[1].kind == BlockKind::Parameters));
  BOOST_TEST((p->blocks[2].kind == BlockKind::TransformedParameters));
  BOOST_TEST((p->blocks[3].kind == BlockKind::Model));
  BOOST_TEST((p->blocks[4].kind == BlockKind::GeneratedQuantities));
  BOOST_TEST(p->find(BlockKind::TransformedData) == nullptr);
  BOOST_TEST(p->find(BlockKind::Model) == &p->blocks[3]);
  BOOST_TEST(p->source->path == "test.stan");
  BOOST_TEST(p->blocks[0].loc.line == 2);
  BOOST_TEST(p->blocks[0].loc.column == 1);

  // data
  const Block& data = p->blocks[0];
  BOOST_REQUIRE_EQUAL(data.stmts.size(), 3u);
  const VarDecl& J = *data.stmts[0]->decl;
  BOOST_TEST(J.name == "J");
  BOOST_TEST((J.base == BaseType::Int));
  BOOST_TEST(sexpr(J.constraint.lower) == "0");
  BOOST_TEST(!J.constraint.upper);
  BOOST_TEST(J.array_sizes.empty());
  const VarDecl& y = *data.stmts[1]->decl;
  BOOST_TEST((y.base == BaseType::Real));
  BOOST_TEST(sizes(y.array_sizes) == "J");
  BOOST_TEST(y.constraint.empty());
  const VarDecl& sigma = *data.stmts[2]->decl;
  BOOST_TEST(sexpr(sigma.constraint.lower) == "0");
  BOOST_TEST(sizes(sigma.array_sizes) == "J");

  // parameters
  const Block& params = p->blocks[1];
  BOOST_REQUIRE_EQUAL(params.stmts.size(), 3u);
  BOOST_TEST((params.stmts[2]->decl->base == BaseType::Vector));
  BOOST_TEST(sizes(params.stmts[2]->decl->sizes) == "J");

  // transformed parameters: a declaration with a value
  const VarDecl& theta = *p->blocks[2].stmts.at(0)->decl;
  BOOST_TEST(sexpr(theta.init) == "(+ mu (* tau theta_tilde))");

  // model: four sampling statements
  const Block& model = p->blocks[3];
  BOOST_REQUIRE_EQUAL(model.stmts.size(), 4u);
  for (const auto& s : model.stmts) BOOST_TEST((s->kind == StmtKind::Tilde));
  BOOST_TEST(sexpr(model.stmts[3]->lhs) == "y");
  BOOST_TEST(model.stmts[3]->dist == "normal");
  BOOST_REQUIRE_EQUAL(model.stmts[3]->args.size(), 2u);
  BOOST_TEST(sexpr(model.stmts[3]->args[1]) == "sigma");

  // generated quantities: declaration, for loop with a block body, declaration with _lpdf
  const Block& gq = p->blocks[4];
  BOOST_REQUIRE_EQUAL(gq.stmts.size(), 3u);
  const Stmt& loop = *gq.stmts[1];
  BOOST_TEST((loop.kind == StmtKind::For));
  BOOST_TEST(loop.loop_var == "j");
  BOOST_TEST(sexpr(loop.lower) == "1");
  BOOST_TEST(sexpr(loop.upper) == "J");
  BOOST_REQUIRE((loop.body->kind == StmtKind::Block));
  const Stmt& assign = *loop.body->stmts.at(0);
  BOOST_TEST((assign.kind == StmtKind::Assign));
  BOOST_TEST(assign.op == "=");
  BOOST_TEST(sexpr(assign.lhs) == "(idx y_rep j)");
  BOOST_TEST(sexpr(assign.rhs) == "(call normal_rng (idx theta j) (idx sigma j))");
  BOOST_TEST(sexpr(gq.stmts[2]->decl->init) == "(call normal_lpdf | y theta sigma)");
}

BOOST_AUTO_TEST_CASE(every_block_in_order) {
  auto p = parse(
      "functions { } data { } transformed data { } network { } parameters { } transformed parameters { } "
      "model { } guide { } generated quantities { }");
  BOOST_REQUIRE_EQUAL(p->blocks.size(), 9u);
  for (size_t i = 0; i < 9; ++i) BOOST_TEST(static_cast<int>(p->blocks[i].kind) == static_cast<int>(i));
}

BOOST_AUTO_TEST_CASE(function_definitions_and_declarations) {
  auto p = parse(
      "functions {\n"
      "  real f(data real x, array[] vector y, array[,] int k, real[] old);\n"
      "  void g() { return; }\n"
      "  matrix h(matrix m) { return m'; }\n"
      "}");
  BOOST_REQUIRE_EQUAL(p->blocks.size(), 1u);
  const auto& fs = p->blocks[0].functions;
  BOOST_REQUIRE_EQUAL(fs.size(), 3u);
  BOOST_TEST(fs[0].name == "f");
  BOOST_TEST(fs[0].return_type.str() == "real");
  BOOST_TEST(!fs[0].body);  // a declaration: its ';' is not an empty body
  BOOST_REQUIRE_EQUAL(fs[0].args.size(), 4u);
  BOOST_TEST(fs[0].args[0].data_only);
  BOOST_TEST(!fs[0].args[1].data_only);
  BOOST_TEST(fs[0].args[0].name == "x");
  BOOST_TEST(fs[0].args[0].loc.column == 20);
  BOOST_TEST(fs[0].args[1].type.str() == "array[] vector");
  BOOST_TEST(fs[0].args[2].type.str() == "array[,] int");
  BOOST_TEST(fs[0].args[3].type.str() == "array[] real");  // the old form real[]
  BOOST_TEST(fs[1].return_type.str() == "void");
  BOOST_TEST(fs[1].args.empty());
  BOOST_REQUIRE(fs[1].body);
  BOOST_TEST((fs[1].body->stmts.at(0)->kind == StmtKind::Return));
  BOOST_TEST(!fs[1].body->stmts.at(0)->rhs);
  BOOST_TEST(sexpr(fs[2].body->stmts.at(0)->rhs) == "(T m)");
  expect_error("functions { real f(vector[3] x) { return 1; } }", "test.stan:1:27",
               "the types of function arguments and results have no sizes");
  expect_error("functions { real f(real<lower=0> x) { return x; } }", "test.stan:1:24",
               "function arguments have no constraints");
  expect_error("functions { real f(simplex x) { return 1; } }", "test.stan:1:20",
               "function arguments are unconstrained: use 'vector', not 'simplex'");
}

BOOST_AUTO_TEST_CASE(network_layers_and_the_guides_network) {
  auto p = parse("network { dense a(2, 3); dense b(3, 1); } guide { network { dense e(4, 2); } }");
  BOOST_REQUIRE_EQUAL(p->blocks.size(), 2u);
  BOOST_REQUIRE_EQUAL(p->blocks[0].layers.size(), 2u);
  BOOST_TEST(p->blocks[0].layers[1].name == "b");
  BOOST_TEST(p->blocks[0].layers[1].kind == "dense");
  BOOST_TEST(p->blocks[0].layers[1].args.size() == 2u);
  BOOST_REQUIRE_EQUAL(p->blocks[1].layers.size(), 1u);
  BOOST_TEST(p->blocks[1].layers[0].name == "e");
  auto plate = parse("data { int<plate> N; int<lower=1> D; }");
  BOOST_TEST(plate->blocks[0].stmts[0]->decl->plate);
  BOOST_TEST(!plate->blocks[0].stmts[1]->decl->plate);
}

BOOST_AUTO_TEST_CASE(empty_and_comment_only_programs_are_valid) {
  BOOST_TEST(parse("")->blocks.empty());
  BOOST_TEST(parse("   \n\t\n")->blocks.empty());
  BOOST_TEST(parse("// nothing\n/* at\n all */ # here\n")->blocks.empty());
  BOOST_TEST(parse("\xEF\xBB\xBFmodel { }")->blocks.size() == 1u);  // UTF-8 byte order mark
  BOOST_TEST(parse("model { }\r\n")->blocks.size() == 1u);
}

// ---------------------------------------------------------------------------
// Expressions

BOOST_AUTO_TEST_CASE(precedence) {
  BOOST_TEST(expr("1 + 2 * 3") == "(+ 1 (* 2 3))");
  BOOST_TEST(expr("(1 + 2) * 3") == "(* (+ 1 2) 3)");
  BOOST_TEST(expr("-a^2") == "(- (^ a 2))");
  BOOST_TEST(expr("a ? b : c ? d : e") == "(? a b (? c d e))");
  BOOST_TEST(expr("a' * b") == "(* (T a) b)");
  BOOST_TEST(expr("a^b^c") == "(^ a (^ b c))");
  BOOST_TEST(expr("a - b - c") == "(- (- a b) c)");
  BOOST_TEST(expr("a / b * c") == "(* (/ a b) c)");
  BOOST_TEST(expr("-a'") == "(- (T a))");
  BOOST_TEST(expr("2^-3") == "(^ 2 (- 3))");
  BOOST_TEST(expr("!a + b") == "(+ (! a) b)");
  BOOST_TEST(expr("+a - -b") == "(- (+ a) (- b))");
  BOOST_TEST(expr("a < b == c >= d && e || f") == "(|| (&& (== (< a b) (>= c d)) e) f)");
  BOOST_TEST(expr("a || b && c") == "(|| a (&& b c))");
  BOOST_TEST(expr("a != b < c") == "(!= a (< b c))");
  BOOST_TEST(expr("a + b < c * d ? 1 : 0") == "(? (< (+ a b) (* c d)) 1 0)");
  // stanc3: .* ./ * / % share a level; \ and %/% bind tighter; .^ is like ^
  BOOST_TEST(expr("a * b .* c ./ d % e") == "(% (./ (.* (* a b) c) d) e)");
  BOOST_TEST(expr("a * b \\ c") == "(* a (\\ b c))");
  BOOST_TEST(expr("a %/% b * c") == "(* (%/% a b) c)");
  BOOST_TEST(expr("a .^ b ^ c") == "(.^ a (^ b c))");
  BOOST_TEST(expr("a'' ") == "(T (T a))");
  BOOST_TEST(expr("(a * b)'") == "(T (* a b))");
}

BOOST_AUTO_TEST_CASE(literals) {
  BOOST_TEST(expr("1") == "1");
  BOOST_TEST(expr("1.5") == "1.5");
  BOOST_TEST(expr("1e-3") == "0.001");
  BOOST_TEST(expr(".5") == "0.5");
  BOOST_TEST(expr("2.") == "2");
  BOOST_TEST(expr("1.5E+2") == "150");
  BOOST_TEST(expr("2.*x") == "(* 2 x)");  // `2.` then `*`, as in Stan
  BOOST_TEST(expr("9223372036854775807") == "9223372036854775807");
  BOOST_TEST(expr("1e-400") == "0");  // underflow is fine

  auto p = parse("model { x = 1; y = 1.0; }");
  BOOST_TEST((stmts(*p)[0]->rhs->kind == ExprKind::IntLit));
  BOOST_TEST(stmts(*p)[0]->rhs->int_value == 1);
  BOOST_TEST((stmts(*p)[1]->rhs->kind == ExprKind::RealLit));
  BOOST_TEST(stmts(*p)[1]->rhs->real_value == 1.0);
}

BOOST_AUTO_TEST_CASE(containers_calls_and_indexing) {
  BOOST_TEST(expr("{1, 2}") == "{ 1 2 }");
  BOOST_TEST(expr("{{1, 2}, {3, 4}}") == "{ { 1 2 } { 3 4 } }");
  BOOST_TEST(expr("[1, 2]") == "[ 1 2 ]");
  BOOST_TEST(expr("[[1, 2], [3, 4]]") == "[ [ 1 2 ] [ 3 4 ] ]");
  BOOST_TEST(expr("f(a, b)") == "(call f a b)");
  BOOST_TEST(expr("f()") == "(call f)");
  BOOST_TEST(expr("foo_lpdf(y | mu, sigma)") == "(call foo_lpdf | y mu sigma)");
  BOOST_TEST(expr("std_normal_lpdf(y |)") == "(call std_normal_lpdf | y)");
  BOOST_TEST(expr("target()") == "(call target)");
  BOOST_TEST(expr("a[i]") == "(idx a i)");
  BOOST_TEST(expr("a[i, j]") == "(idx a i j)");
  BOOST_TEST(expr("a[i][j]") == "(idx (idx a i) j)");
  BOOST_TEST(expr("a[i:j]") == "(idx a i:j)");
  BOOST_TEST(expr("a[:j]") == "(idx a _:j)");
  BOOST_TEST(expr("a[i:]") == "(idx a i:_)");
  BOOST_TEST(expr("a[:]") == "(idx a :)");
  BOOST_TEST(expr("a[, 2]") == "(idx a : 2)");
  BOOST_TEST(expr("a[idxs]") == "(idx a idxs)");
  BOOST_TEST(expr("a[i + 1 : n - 1]") == "(idx a (+ i 1):(- n 1))");
  BOOST_TEST(expr("f(x)[1]'") == "(T (idx (call f x) 1))");
  BOOST_TEST(expr("-a[1]") == "(- (idx a 1))");
}

// ---------------------------------------------------------------------------
// Declarations

BOOST_AUTO_TEST_CASE(array_syntax_old_and_new) {
  auto p = parse(
      "data { array[N, M] real a; real b[N, M]; array[N] vector[K] c; vector[K] d[N]; "
      "int<lower=0, upper=1> y[N]; array[N] int<lower=0, upper=1> z; }");
  BOOST_TEST(sizes(decl(*p, 0).array_sizes) == "N,M");
  BOOST_TEST(sizes(decl(*p, 1).array_sizes) == "N,M");
  BOOST_TEST((decl(*p, 1).base == BaseType::Real));
  BOOST_TEST(decl(*p, 1).sizes.empty());
  for (size_t i : {2, 3}) {
    BOOST_TEST((decl(*p, i).base == BaseType::Vector));
    BOOST_TEST(sizes(decl(*p, i).sizes) == "K");
    BOOST_TEST(sizes(decl(*p, i).array_sizes) == "N");
  }
  for (size_t i : {4, 5}) {
    BOOST_TEST((decl(*p, i).base == BaseType::Int));
    BOOST_TEST(sexpr(decl(*p, i).constraint.lower) == "0");
    BOOST_TEST(sexpr(decl(*p, i).constraint.upper) == "1");
    BOOST_TEST(sizes(decl(*p, i).array_sizes) == "N");
  }
}

BOOST_AUTO_TEST_CASE(types_and_constraints) {
  auto p = parse(
      "parameters {\n"
      "  vector<lower=0>[N] s;\n"
      "  row_vector<upper=a[1]>[3] r;\n"
      "  matrix<offset=1, multiplier=2>[M, N] m;\n"
      "  simplex[K] theta;\n"
      "  cholesky_factor_corr[K] L;\n"
      "  real<lower=-1, upper=(a > b)> z;\n"
      "  real<multiplier=s * 2> w;\n"
      "  real<lower=0, upper=1>x;\n"
      "}");
  BOOST_TEST((decl(*p, 0).base == BaseType::Vector));
  BOOST_TEST(sexpr(decl(*p, 0).constraint.lower) == "0");
  BOOST_TEST(sizes(decl(*p, 0).sizes) == "N");
  BOOST_TEST((decl(*p, 1).base == BaseType::RowVector));
  BOOST_TEST(sexpr(decl(*p, 1).constraint.upper) == "(idx a 1)");
  BOOST_TEST((decl(*p, 2).base == BaseType::Matrix));
  BOOST_TEST(sizes(decl(*p, 2).sizes) == "M,N");
  BOOST_TEST(sexpr(decl(*p, 2).constraint.offset) == "1");
  BOOST_TEST(sexpr(decl(*p, 2).constraint.multiplier) == "2");
  BOOST_TEST((decl(*p, 3).base == BaseType::Simplex));
  BOOST_TEST(sizes(decl(*p, 3).sizes) == "K");
  BOOST_TEST((decl(*p, 4).base == BaseType::CholeskyFactorCorr));
  BOOST_TEST(sexpr(decl(*p, 5).constraint.lower) == "(- 1)");
  BOOST_TEST(sexpr(decl(*p, 5).constraint.upper) == "(> a b)");  // parenthesised comparison
  BOOST_TEST(sexpr(decl(*p, 6).constraint.multiplier) == "(* s 2)");
  BOOST_TEST(decl(*p, 7).name == "x");
}

BOOST_AUTO_TEST_CASE(declarations_with_values_and_lists) {
  auto p = parse("transformed data { real a = 1, b, c[2] = {1, 2}; array[2] int w = {1, 2}; }");
  BOOST_REQUIRE_EQUAL(stmts(*p).size(), 4u);
  BOOST_TEST(decl(*p, 0).name == "a");
  BOOST_TEST(sexpr(decl(*p, 0).init) == "1");
  BOOST_TEST(decl(*p, 1).name == "b");
  BOOST_TEST(!decl(*p, 1).init);
  BOOST_TEST(sizes(decl(*p, 2).array_sizes) == "2");
  BOOST_TEST(sexpr(decl(*p, 2).init) == "{ 1 2 }");
  BOOST_TEST(sexpr(decl(*p, 3).init) == "{ 1 2 }");
}

BOOST_AUTO_TEST_CASE(contextual_words_are_names) {
  // Stan's block and constraint words are not reserved.
  auto p = parse("data { int offset; int T; real lower; int data; real model; } model { T ~ normal(offset, lower); }");
  BOOST_TEST(decl(*p, 0).name == "offset");
  BOOST_TEST(decl(*p, 1).name == "T");
  BOOST_TEST(decl(*p, 3).name == "data");
}

// ---------------------------------------------------------------------------
// Statements

BOOST_AUTO_TEST_CASE(statement_kinds) {
  auto p = parse(R"(model {
  y ~ normal(mu, sigma);
  target += normal_lpdf(y | 0, 1);
  x = 1; x[1] += 2; x[1, 2] -= 3; x[1][2] *= 4; x /= 5; x .*= 6; x ./= 7;
  for (i in 1:N) x[i] = i;
  for (v in vs) print("v = ", v);
  while (x < 3) { x += 1; if (x > 2) break; else continue; }
  if (a) ; else if (b) reject("bad \"b\"", b); else { }
  { real local = 1; foo(local); }
  to_vector(z) ~ std_normal();
  ;
})");
  const auto& s = stmts(*p);
  BOOST_REQUIRE_EQUAL(s.size(), 16u);
  BOOST_TEST((s[0]->kind == StmtKind::Tilde));
  BOOST_TEST(s[0]->dist == "normal");
  BOOST_TEST((s[1]->kind == StmtKind::TargetPlus));
  BOOST_TEST(sexpr(s[1]->rhs) == "(call normal_lpdf | y 0 1)");
  const char* ops[] = {"=", "+=", "-=", "*=", "/=", ".*=", "./="};
  const char* lhs[] = {"x", "(idx x 1)", "(idx x 1 2)", "(idx (idx x 1) 2)", "x", "x", "x"};
  for (int i = 0; i < 7; ++i) {
    BOOST_TEST((s[2 + i]->kind == StmtKind::Assign));
    BOOST_TEST(s[2 + i]->op == ops[i]);
    BOOST_TEST(sexpr(s[2 + i]->lhs) == lhs[i]);
  }
  BOOST_TEST((s[9]->kind == StmtKind::For));
  BOOST_TEST((s[9]->body->kind == StmtKind::Assign));
  BOOST_TEST((s[10]->kind == StmtKind::Foreach));
  BOOST_TEST(s[10]->loop_var == "v");
  BOOST_TEST(sexpr(s[10]->lower) == "vs");
  BOOST_TEST(!s[10]->upper);
  BOOST_TEST((s[10]->body->kind == StmtKind::Print));
  BOOST_TEST(sexpr(s[10]->body->args[0]) == "\"v = \"");
  BOOST_TEST((s[10]->body->args[0]->kind == ExprKind::StringLit));

  const Stmt& loop = *s[11];
  BOOST_TEST((loop.kind == StmtKind::While));
  BOOST_TEST(sexpr(loop.cond) == "(< x 3)");
  BOOST_REQUIRE_EQUAL(loop.body->stmts.size(), 2u);
  const Stmt& branch = *loop.body->stmts[1];
  BOOST_TEST((branch.kind == StmtKind::If));
  BOOST_TEST((branch.body->kind == StmtKind::Break));
  BOOST_TEST((branch.else_body->kind == StmtKind::Continue));

  const Stmt& chain = *s[12];
  BOOST_TEST((chain.body->kind == StmtKind::Empty));
  BOOST_REQUIRE((chain.else_body->kind == StmtKind::If));
  BOOST_TEST((chain.else_body->body->kind == StmtKind::Reject));
  BOOST_TEST(chain.else_body->body->args[0]->name == "bad \"b\"");
  BOOST_TEST((chain.else_body->else_body->kind == StmtKind::Block));

  const Stmt& block = *s[13];
  BOOST_TEST((block.kind == StmtKind::Block));
  BOOST_REQUIRE_EQUAL(block.stmts.size(), 2u);
  BOOST_TEST((block.stmts[0]->kind == StmtKind::Decl));
  BOOST_TEST((block.stmts[1]->kind == StmtKind::Expression));
  BOOST_TEST(sexpr(block.stmts[1]->rhs) == "(call foo local)");

  BOOST_TEST((s[14]->kind == StmtKind::Tilde));
  BOOST_TEST(sexpr(s[14]->lhs) == "(call to_vector z)");
  BOOST_TEST(s[14]->args.empty());
  BOOST_TEST((s[15]->kind == StmtKind::Empty));
}

BOOST_AUTO_TEST_CASE(dangling_else_binds_to_nearest_if) {
  auto p = parse("model { if (a) if (b) x = 1; else x = 2; }");
  const Stmt& outer = *stmts(*p).at(0);
  BOOST_TEST(!outer.else_body);
  BOOST_TEST((outer.body->kind == StmtKind::If));
  BOOST_TEST(outer.body->else_body != nullptr);
}

BOOST_AUTO_TEST_CASE(locations_are_first_tokens) {
  auto p = parse("model {\n  y ~ normal(a + b * c, 1);\n\tx[i] = -f(z);\n}");
  const Stmt& tilde = *stmts(*p)[0];
  BOOST_TEST(tilde.loc.line == 2);
  BOOST_TEST(tilde.loc.column == 3);
  const Expr& sum = *tilde.args[0];
  BOOST_TEST(sum.loc.line == 2);
  BOOST_TEST(sum.loc.column == 14);  // a Binary node starts at its left operand
  BOOST_TEST(sum.args[1]->loc.column == 18);
  const Stmt& assign = *stmts(*p)[1];
  BOOST_TEST(assign.loc.line == 3);
  BOOST_TEST(assign.loc.column == 2);  // a tab is one column
  BOOST_TEST(assign.rhs->loc.column == 9);
  BOOST_TEST(assign.rhs->args[0]->loc.column == 10);

  auto d = parse("data {\n  array[N] real<lower=0> sigma;\n}");
  BOOST_TEST(stmts(*d)[0]->loc.column == 3);          // the statement starts at the type
  BOOST_TEST(stmts(*d)[0]->decl->loc.column == 26);   // the VarDecl at its name
}

// ---------------------------------------------------------------------------
// Errors: always a UserError with file:line:col and a readable message. The
// message of each syntax error is a golden test (tests/golden/bad/syntax/);
// here: robustness and how errors combine.

BOOST_AUTO_TEST_CASE(declaration_errors) {
  expect_error("data { complex_vector[3] o; }", "test.stan:1:8", "type 'complex_vector' is not supported yet");
  // In a list, the shared type is reported once, each declarator's own parts always.
  const std::string list = parse_error("transformed data { vector v = 1, w = 1e999; }");
  BOOST_TEST(list.find("test.stan:1:26: error: 'vector' needs one size") != std::string::npos);
  BOOST_TEST(list.find("needs one size", list.find("needs one size") + 1) == std::string::npos);
  BOOST_TEST(list.find("test.stan:1:38: error: real literal 1e999 is too large") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(several_errors_are_reported_together) {
  const std::string message = parse_error("model {\n  x = 1\n  y = 2\n  z = 3;\n}");
  BOOST_TEST(message.find("test.stan:2:8: error: expected ';'") != std::string::npos);
  BOOST_TEST(message.find("test.stan:3:8: error: expected ';'") != std::string::npos);
  // ... with the source line and a caret
  BOOST_TEST(message.find("\n    x = 1\n         ^\n") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(utf8_in_comments_and_strings_is_fine) {
  BOOST_TEST(parse("// \xCE\xB1\xCE\xB2\nmodel { print(\"\xCE\xB1\"); }")->blocks.size() == 1u);
}

BOOST_AUTO_TEST_CASE(overlong_utf8_is_refused) {
  // Not a golden case yet: the message echoes the invalid bytes (tests/golden/KNOWN_DEFECTS.md).
  expect_error("model { x = \xC0\xAF; }", "test.stan:1:13", "invalid UTF-8");
}

BOOST_AUTO_TEST_CASE(random_input_never_crashes) {
  std::mt19937 rng(12345);
  const std::string tokens[] = {"model", "data", "{", "}", "(", ")", "[", "]", "<", ">", ";", ",", "=", "~",
                                "+", "-", "*", "'", "^", "?", ":", "|", "x", "1", "2.5", "real", "vector",
                                "array", "for", "in", "if", "else", "print", "\"s\"", "lower", "target", "+="};
  for (int round = 0; round < 300; ++round) {
    std::string bytes(1 + rng() % 200, ' ');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    std::string ascii(1 + rng() % 200, ' ');
    for (char& c : ascii) c = static_cast<char>(9 + rng() % 118);
    std::string words = rng() % 2 ? "model { " : "";
    for (int i = rng() % 60; i > 0; --i) words += tokens[rng() % std::size(tokens)] + " ";
    for (const std::string& text : {bytes, ascii, words}) {
      try {
        parse(text);
      } catch (const UserError& e) {
        BOOST_TEST(std::string(e.what()).find("test.stan") == 0);
      }
    }
  }
}

// Every prefix and many single-character mutations of a valid program either
// parse or give a UserError, and never anything else.
BOOST_AUTO_TEST_CASE(mutated_programs_never_crash) {
  const std::string program = kEightSchools;
  int errors = 0;
  auto attempt = [&](const std::string& text) {
    try {
      parse(text);
    } catch (const UserError& e) {
      ++errors;
      BOOST_TEST(std::string(e.what()).find("test.stan") == 0);
    }
  };
  for (size_t n = 0; n <= program.size(); n += 3) attempt(program.substr(0, n));
  std::mt19937 rng(7);
  const std::string alphabet = "{}()[]<>;,=~+-*/^'|?:!.0123456789aeT_\" \n#";
  for (int round = 0; round < 400; ++round) {
    std::string text = program;
    const size_t at = rng() % text.size();
    switch (rng() % 3) {
      case 0: text.erase(at, 1); break;
      case 1: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      default: text[at] = alphabet[rng() % alphabet.size()]; break;
    }
    attempt(text);
  }
  BOOST_TEST(errors > 100);
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_not_a_crash) {
  const std::string deep = "model { x = " + std::string(100000, '(') + "1" + std::string(100000, ')') + "; }";
  // The model block's '{' is level 1, so the 200th '(' (column 12 + 200) is level 201.
  expect_error(deep, "test.stan:1:212", "expression nested too deeply (more than 200 levels)");
  expect_error("model " + std::string(100000, '{') + std::string(100000, '}'), "test.stan:1:207",
               "nested too deeply");
  expect_error("model { x = " + std::string(100000, '{') + "1" + std::string(100000, '}') + "; }", "test.stan:1:212",
               "nested too deeply");

  // Chains without brackets nest too (20000 is far beyond the limit of 2000).
  std::string unary = "model { x = ";
  for (int i = 0; i < 20000; ++i) unary += "-";
  expect_error(unary + "1; }", "test.stan:1:", "nested too deeply");
  std::string power = "model { x = ";
  for (int i = 0; i < 20000; ++i) power += "2^";
  expect_error(power + "1; }", "test.stan:1:", "nested too deeply");
  std::string sum = "model { x = ";
  for (int i = 0; i < 20000; ++i) sum += "1+";
  expect_error(sum + "1; }", "test.stan:1:", "nested too deeply");
  std::string index = "model { x = a";
  for (int i = 0; i < 20000; ++i) index += "[1]";
  expect_error(index + "; }", "test.stan:1:", "nested too deeply");
  std::string ifs = "model { ";
  for (int i = 0; i < 20000; ++i) ifs += "if (a) ";
  expect_error(ifs + "x = 1; }", "test.stan:1:", "nested too deeply");
  std::string elses = "model { if (a) x = 1; ";
  for (int i = 0; i < 20000; ++i) elses += "else if (a) x = 1; ";
  expect_error(elses + "}", "test.stan:1:", "nested too deeply");

  // Just below the limits parses fine.
  auto p = parse("model { x = " + std::string(199, '(') + "1" + std::string(199, ')') + "; }");
  BOOST_TEST(sexpr(stmts(*p)[0]->rhs) == "1");
  std::string long_sum = "model { x = 0";
  for (int i = 0; i < 500; ++i) long_sum += " + a[" + std::to_string(i + 1) + "] * b";
  BOOST_TEST(parse(long_sum + "; }")->blocks.size() == 1u);
  // Many statements are not nesting.
  std::string many = "model {\n";
  for (int i = 0; i < 1000; ++i) many += "  if (a) { x = 1; } else { x = 2; }\n  y = -x + 1;\n";
  BOOST_TEST(parse(many + "}")->blocks[0].stmts.size() == 2000u);
}

BOOST_AUTO_TEST_CASE(parsing_from_several_threads) {
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&ok, t] {
      for (int i = 0; i < 20; ++i) ok[t] += parse(kEightSchools)->blocks.size() == 5u;
    });
  for (auto& thread : threads) thread.join();
  for (int n : ok) BOOST_TEST(n == 20);
}

// ---------------------------------------------------------------------------
// Reading files

BOOST_AUTO_TEST_CASE(read_source_file_errors) {
  const auto dir = std::filesystem::temp_directory_path() / "latent_test_parser";
  std::filesystem::create_directories(dir);
  try {
    read_source_file((dir / "missing.stan").string());
    BOOST_FAIL("expected a UserError");
  } catch (const UserError& e) {
    const std::string m = e.what();
    BOOST_TEST(m.find("cannot read model file '" + (dir / "missing.stan").string() + "'") != std::string::npos);
    BOOST_TEST(m.find("no such file") != std::string::npos);
  }
  try {
    read_source_file(dir.string());
    BOOST_FAIL("expected a UserError");
  } catch (const UserError& e) {
    BOOST_TEST(std::string(e.what()).find("is a directory") != std::string::npos);
  }

  const auto path = dir / "ok.stan";
  std::ofstream(path) << kEightSchools;
  auto file = read_source_file(path.string());
  BOOST_TEST(file->path == path.string());
  BOOST_TEST(file->text == kEightSchools);
  auto program = parse_program(file);
  BOOST_TEST(program->blocks.size() == 5u);

  std::ofstream(path) << "model {\n  x = 1\n}\n";
  try {
    parse_program(read_source_file(path.string()));
    BOOST_FAIL("expected a UserError");
  } catch (const UserError& e) {
    BOOST_TEST(std::string(e.what()).find(path.string() + ":2:8: error: expected ';'") == 0);
  }
  std::filesystem::remove_all(dir);
}
