// The semantic checker: valid models type cleanly (with the right types on the
// expressions); invalid ones give every error once, without cascades. The
// message of each error is a golden test (tests/golden/bad/checker/).
#define BOOST_TEST_MODULE checker
#include <boost/test/unit_test.hpp>

#include "compiler/frontend/frontend.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

using namespace latent;

namespace {

std::unique_ptr<ast::Program> checked(const std::string& text) {
  auto src = std::make_shared<SourceFile>(SourceFile{"test.lat", text});
  auto program = parse_program(src);
  check_program(*program);
  return program;
}

// All diagnostics of the checker ("" when the program is valid). Parse errors
// fail the test: every case here must be syntactically valid.
std::string errors_of(const std::string& text) {
  auto src = std::make_shared<SourceFile>(SourceFile{"test.lat", text});
  std::unique_ptr<ast::Program> program;
  try {
    program = parse_program(src);
  } catch (const UserError& e) {
    BOOST_FAIL("unexpected parse error:\n" << e.what());
  }
  try {
    check_program(*program);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

void visit(const ast::Expr& e, const std::function<void(const ast::Expr&)>& f) {
  f(e);
  for (const auto& a : e.args)
    if (a) visit(*a, f);
  for (const auto& ix : e.indices) {
    if (ix.lower) visit(*ix.lower, f);
    if (ix.upper) visit(*ix.upper, f);
  }
}

void visit(const ast::Stmt& s, const std::function<void(const ast::Expr&)>& f) {
  auto e = [&](const ast::ExprPtr& x) {
    if (x) visit(*x, f);
  };
  if (s.decl) {
    for (const auto& x : s.decl->array_sizes) e(x);
    for (const auto& x : s.decl->sizes) e(x);
    e(s.decl->constraint.lower);
    e(s.decl->constraint.upper);
    e(s.decl->constraint.offset);
    e(s.decl->constraint.multiplier);
    e(s.decl->init);
  }
  e(s.lhs);
  e(s.rhs);
  for (const auto& x : s.args) e(x);
  e(s.lower);
  e(s.upper);
  e(s.cond);
  if (s.body) visit(*s.body, f);
  if (s.else_body) visit(*s.else_body, f);
  for (const auto& x : s.stmts)
    if (x) visit(*x, f);
}

std::vector<const ast::Expr*> all_exprs(const ast::Program& p) {
  std::vector<const ast::Expr*> out;
  for (const auto& b : p.blocks)
    for (const auto& s : b.stmts) visit(*s, [&](const ast::Expr& e) { out.push_back(&e); });
  return out;
}

// The first expression at line:col of the given kind.
const ast::Expr* expr_at(const ast::Program& p, int line, int col, ast::ExprKind kind) {
  for (const ast::Expr* e : all_exprs(p))
    if (e->loc.line == line && e->loc.column == col && e->kind == kind) return e;
  return nullptr;
}

const ast::VarDecl* find_decl(const ast::Stmt& s, const std::string& name) {
  if (s.decl && s.decl->name == name) return s.decl.get();
  for (const auto* child : {s.body.get(), s.else_body.get()})
    if (child)
      if (auto* d = find_decl(*child, name)) return d;
  for (const auto& x : s.stmts)
    if (auto* d = find_decl(*x, name)) return d;
  return nullptr;
}

const ast::VarDecl* find_decl(const ast::Program& p, const std::string& name) {
  for (const auto& b : p.blocks)
    for (const auto& s : b.stmts)
      if (auto* d = find_decl(*s, name)) return d;
  return nullptr;
}

// The type of the initialiser of the declaration `name`, as Stan spells it.
std::string init_type(const ast::Program& p, const std::string& name) {
  const ast::VarDecl* d = find_decl(p, name);
  if (!d) return "<no declaration " + name + ">";
  if (!d->init) return "<no initialiser for " + name + ">";
  return d->init->type.str();
}

std::string decl_type(const ast::Program& p, const std::string& name) {
  const ast::VarDecl* d = find_decl(p, name);
  return d ? d->type.str() : "<no declaration " + name + ">";
}

}  // namespace

// ------------------------------------------------------------------ valid models

BOOST_AUTO_TEST_CASE(eight_schools) {
  const std::string text = R"(data {
  int<lower=0> J;
  array[J] real y;
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
  mu ~ normal(0, 5);
  tau ~ cauchy(0, 5);
  theta_tilde ~ normal(0, 1);
  y ~ normal(theta, sigma);
}
)";
  std::unique_ptr<ast::Program> p;
  BOOST_REQUIRE_NO_THROW(p = checked(text));
  BOOST_TEST(decl_type(*p, "J") == "int");
  BOOST_TEST(decl_type(*p, "y") == "array[] real");
  BOOST_TEST(decl_type(*p, "theta_tilde") == "vector");
  BOOST_TEST(init_type(*p, "theta") == "vector");
  const ast::VarDecl* theta = find_decl(*p, "theta");
  BOOST_REQUIRE(theta && theta->init);
  // mu + (tau * theta_tilde)
  BOOST_TEST(theta->init->args[0]->type.str() == "real");
  BOOST_TEST(theta->init->args[1]->type.str() == "vector");
  const ast::Expr* j = expr_at(*p, 3, 9, ast::ExprKind::Var);  // array[J]
  BOOST_REQUIRE(j);
  BOOST_TEST(j->type.str() == "int");
  // every expression got a type
  for (const ast::Expr* e : all_exprs(*p)) BOOST_TEST(!e->type.is_error());
}

BOOST_AUTO_TEST_CASE(logistic_regression) {
  const std::string text = R"(data {
  int<lower=0> N;
  int<lower=1> K;
  matrix[N, K] X;
  array[N] int<lower=0, upper=1> y;
}
parameters {
  real alpha;
  vector[K] beta;
}
model {
  vector[N] eta = alpha + X * beta;
  alpha ~ normal(0, 2.5);
  beta ~ normal(0, 1);
  y ~ bernoulli_logit(eta);
}
generated quantities {
  real log_lik = bernoulli_logit_lpmf(y | alpha + X * beta);
  array[N] real p;
  for (n in 1:N) p[n] = inv_logit(alpha + X[n] * beta);
}
)";
  std::unique_ptr<ast::Program> p;
  BOOST_REQUIRE_NO_THROW(p = checked(text));
  BOOST_TEST(decl_type(*p, "X") == "matrix");
  BOOST_TEST(decl_type(*p, "y") == "array[] int");
  BOOST_TEST(init_type(*p, "eta") == "vector");
  BOOST_TEST(init_type(*p, "log_lik") == "real");
  const ast::Expr* xn = expr_at(*p, 20, 43, ast::ExprKind::Index);  // X[n]
  BOOST_REQUIRE(xn);
  BOOST_TEST(xn->type.str() == "row_vector");
  const ast::Expr* prod = expr_at(*p, 20, 43, ast::ExprKind::Binary);  // X[n] * beta
  BOOST_REQUIRE(prod);
  BOOST_TEST(prod->type.str() == "real");
  const ast::Expr* pn = expr_at(*p, 20, 18, ast::ExprKind::Index);  // p[n] on the left
  BOOST_REQUIRE(pn);
  BOOST_TEST(pn->type.str() == "real");
  for (const ast::Expr* e : all_exprs(*p)) BOOST_TEST(!e->type.is_error());
}

BOOST_AUTO_TEST_CASE(gaussian_mixture) {
  const std::string text = R"(data {
  int<lower=1> K;
  int<lower=1> N;
  array[N] real y;
}
parameters {
  simplex[K] theta;
  vector[K] mu;
  vector<lower=0>[K] sigma;
}
model {
  vector[K] log_theta = log(theta);
  sigma ~ lognormal(0, 2);
  mu ~ normal(0, 10);
  for (n in 1:N) {
    vector[K] lps = log_theta;
    for (k in 1:K) {
      lps[k] += normal_lpdf(y[n] | mu[k], sigma[k]);
    }
    target += log_sum_exp(lps);
  }
}
)";
  std::unique_ptr<ast::Program> p;
  BOOST_REQUIRE_NO_THROW(p = checked(text));
  BOOST_TEST(decl_type(*p, "theta") == "vector");  // simplex -> vector
  BOOST_TEST(init_type(*p, "log_theta") == "vector");
  const ast::Expr* lpdf = expr_at(*p, 18, 17, ast::ExprKind::Call);
  BOOST_REQUIRE(lpdf);
  BOOST_TEST(lpdf->name == "normal_lpdf");
  BOOST_TEST(lpdf->type.str() == "real");
  BOOST_TEST(lpdf->args[0]->type.str() == "real");  // y[n]
  const ast::Expr* lse = expr_at(*p, 20, 15, ast::ExprKind::Call);
  BOOST_REQUIRE(lse);
  BOOST_TEST(lse->type.str() == "real");
  for (const ast::Expr* e : all_exprs(*p)) BOOST_TEST(!e->type.is_error());
}

BOOST_AUTO_TEST_CASE(operator_and_index_types) {
  const std::string text = R"(data {
  int N;
  matrix[N, N] A;
  vector[N] v;
  row_vector[N] r;
  array[N] vector[N] av;
  array[N, N] real a2;
  array[2] int idx;
}
transformed data {
  real dot = r * v;
  matrix[N, N] outer = v * r;
  vector[N] Av = A * v;
  row_vector[N] rA = r * A;
  matrix[N, N] AA = A * A;
  matrix[N, N] Aplus = A + 1;
  vector[N] vdiv = v / 2;
  vector[N] vew = v .* v;
  vector[N] vediv = 1 ./ v;
  row_vector[N] vt = v';
  vector[N] rt = r';
  vector[N] neg = -v;
  int idiv = N / 2;
  int imod = N % 2;
  real pw = 2 ^ 3;
  int cmp = N > 1 && N < 10;
  real tern = N > 1 ? 1 : 2.5;
  row_vector[N] row1 = A[1];
  real a11 = A[1, 2];
  vector[N] col1 = A[:, 1];
  row_vector[N] row1b = A[1, :];
  matrix[N, N] rows = A[2:3];
  matrix[N, N] sub = A[idx, idx];
  vector[N] sel = v[idx];
  real v1 = v[1];
  vector[N] av1 = av[1];
  array[N] real avcol = av[:, 1];
  real av12 = av[1, 2];
  real av12b = av[1][2];
  array[N] real a2row = a2[1];
  array[2, N] real a2sel = a2[idx];
  array[3] real arr = {1, 2.5, 3};
  array[2] vector[N] varr = {v, v};
  row_vector[2] rlit = [1, 2];
  matrix[2, N] mlit = [r, r];
  real sc = A[1] * v;
  real loop_sum = 0;
  for (x in v) loop_sum += x;
  for (row in av) loop_sum += sum(row);
  int idiv2 = N %/% 2;
  vector[N] vpow = v .^ 2;
  matrix[N, N] ldiv = A \ A;
  vector[N] solve = A \ v;
}
)";
  std::unique_ptr<ast::Program> p;
  BOOST_REQUIRE_NO_THROW(p = checked(text));
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"dot", "real"},         {"outer", "matrix"},     {"Av", "vector"},
      {"rA", "row_vector"},    {"AA", "matrix"},        {"Aplus", "matrix"},
      {"vdiv", "vector"},      {"vew", "vector"},       {"vediv", "vector"},
      {"vt", "row_vector"},    {"rt", "vector"},        {"neg", "vector"},
      {"idiv", "int"},         {"imod", "int"},         {"pw", "real"},
      {"cmp", "int"},          {"tern", "real"},        {"row1", "row_vector"},
      {"a11", "real"},         {"col1", "vector"},      {"row1b", "row_vector"},
      {"rows", "matrix"},      {"sub", "matrix"},       {"sel", "vector"},
      {"v1", "real"},          {"av1", "vector"},       {"avcol", "array[] real"},
      {"av12", "real"},        {"av12b", "real"},       {"a2row", "array[] real"},
      {"a2sel", "array[,] real"}, {"arr", "array[] real"}, {"varr", "array[] vector"},
      {"rlit", "row_vector"},  {"mlit", "matrix"},      {"sc", "real"},
      {"loop_sum", "int"},     {"idiv2", "int"},        {"vpow", "vector"},
      {"ldiv", "matrix"},      {"solve", "vector"}};
  for (const auto& [name, type] : expected) BOOST_TEST(init_type(*p, name) == type, name);
  BOOST_TEST(decl_type(*p, "a2sel") == "array[,] real");
  BOOST_TEST(decl_type(*p, "mlit") == "matrix");
  const ast::Expr* x = expr_at(*p, 48, 28, ast::ExprKind::Var);  // the foreach element x
  BOOST_REQUIRE(x);
  BOOST_TEST(x->type.str() == "real");
}

BOOST_AUTO_TEST_CASE(scopes_and_blocks_that_are_valid) {
  // Same name in sibling scopes, locals in generated quantities, print/reject,
  // loops with break/continue, while, assignments to the block's own variables.
  const std::string text = R"(data {
  int N;
  vector[N] y;
}
transformed data {
  real m = mean(y);
  m = m * 2;
}
parameters {
  real mu;
}
transformed parameters {
  real mu2 = mu;
  mu2 += 1;
}
model {
  for (i in 1:N) {
    real z = y[i] - mu;
    if (z > 10) break;
    target += -0.5 * z ^ 2;
  }
  for (i in 1:N) {
    real z = 1;
    if (z < 0) continue;
  }
  print("mu = ", mu, " target = ", target());
}
generated quantities {
  real s = 0;
  {
    int k = 0;
    while (k < N) {
      k += 1;
      s += y[k];
    }
  }
  if (s < 0) reject("negative sum ", s);
}
)";
  BOOST_TEST(errors_of(text) == "");
}

BOOST_AUTO_TEST_CASE(vector_bounds) {
  // A bound of the variable's own type applies element by element (sizes are checked when lowering).
  // A bound of another container type is an error: tests/golden/bad/checker/bound_of_wrong_type.lat.
  BOOST_CHECK_NO_THROW(checked("data {\n  vector[2] lo;\n}\nparameters {\n  vector<lower=lo>[2] x;\n}\n"));
}

BOOST_AUTO_TEST_CASE(user_defined_functions) {
  // Each call is typed by the overload it resolves to, which the checker records;
  // recursion is found from the calls in the bodies.
  auto p = checked(R"(functions {
  real f(real x) { return x; }
  vector f(vector x) { return x; }
  int fact(int n) { if (n <= 1) return 1; return n * fact(n - 1); }
  real uses_fact(int n) { return fact(n); }
  real my_lpdf(real y, real mu) { return -square(y - mu); }
}
data { int n; vector[2] v; }
transformed data {
  real a = f(1);
  vector[2] b = f(v);
  int c = fact(n);
}
parameters { real mu; }
model { mu ~ my(0); target += my_lupdf(mu | 1); }
)");
  const auto& fs = p->blocks.at(0).functions;
  BOOST_REQUIRE_EQUAL(fs.size(), 5u);
  BOOST_TEST(init_type(*p, "a") == "real");
  BOOST_TEST(init_type(*p, "b") == "vector");
  BOOST_TEST(init_type(*p, "c") == "int");
  BOOST_TEST(find_decl(*p, "a")->init->function == &fs[0]);  // int -> real
  BOOST_TEST(find_decl(*p, "b")->init->function == &fs[1]);
  BOOST_TEST(fs[2].reaches_recursion);
  BOOST_TEST(fs[3].reaches_recursion);  // calls a recursive function
  BOOST_TEST(!fs[0].reaches_recursion);
  const auto& model = p->blocks.back().stmts;
  BOOST_TEST(model.at(0)->function == &fs[4]);           // mu ~ my(0)
  BOOST_TEST(model.at(1)->rhs->function == &fs[4]);      // my_lupdf calls my_lpdf
  BOOST_TEST(model.at(1)->rhs->type.str() == "real");
}

BOOST_AUTO_TEST_CASE(function_errors_are_each_reported_once) {
  const std::string out = errors_of(R"(functions {
  real f(real x) { x = 1; return y; }
  real g(real x);
  void h() { return 1; }
}
)");
  BOOST_TEST(count(out, ": error: ") == 4u, out);
  BOOST_TEST(out.find("test.lat:2:20: error: cannot assign to 'x'") != std::string::npos, out);
  BOOST_TEST(out.find("test.lat:2:34: error: variable 'y' is not defined") != std::string::npos, out);
  BOOST_TEST(out.find("test.lat:3:8: error: function 'real g(real)' is declared but never defined") != std::string::npos,
             out);
  BOOST_TEST(out.find("test.lat:4:21: error: void function 'h' cannot return a value") != std::string::npos, out);
}

// ------------------------------------------------------------------ error cases
// One message per bad program: tests/golden/bad/checker/ (exact output, file:line:col
// and the caret line). Here: how errors combine.

BOOST_AUTO_TEST_CASE(no_cascade_after_an_error) {
  // One undefined name used in a chain of operations, an index, a call and a
  // tilde gives exactly one message per use, never follow-on type errors.
  const std::string text = R"(parameters {
  vector[3] x;
}
model {
  vector[3] w = (undefined_thing + 1) * 2;
  x ~ normal(exp(undefined_thing[1]) + x, 1);
}
)";
  const std::string out = errors_of(text);
  BOOST_TEST(count(out, ": error: ") == 2u, out);
  BOOST_TEST(out.find("test.lat:5:18: error: variable 'undefined_thing' is not defined") != std::string::npos, out);
  BOOST_TEST(out.find("test.lat:6:18: error: variable 'undefined_thing' is not defined") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(every_error_is_reported) {
  const std::string text = R"(data {
  int N;
}
parameters {
  real mu;
}
model {
  N = 2;
  mu = 1;
  continue;
  target += nothing;
}
)";
  const std::string out = errors_of(text);
  BOOST_TEST(count(out, ": error: ") == 4u, out);
  BOOST_TEST(out.find("test.lat:8:3: error: cannot assign to 'N'") != std::string::npos, out);
  BOOST_TEST(out.find("test.lat:9:3: error: cannot assign to 'mu'") != std::string::npos, out);
  BOOST_TEST(out.find("test.lat:10:3: error: continue is only allowed inside a loop") != std::string::npos, out);
  BOOST_TEST(out.find("test.lat:11:13: error: variable 'nothing' is not defined") != std::string::npos, out);
  // rendered with the source line and a caret
  BOOST_TEST(out.find("    N = 2;\n    ^\n") != std::string::npos, out);
}
