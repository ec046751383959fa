// The semantic checker: valid models type cleanly (with the right types on the
// expressions), invalid ones give precise messages at the right line:col.
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

// The program has exactly one error, this message at this line:col.
#define CHECK_ONE_ERROR(text, line, col, message)                                                   \
  do {                                                                                              \
    const std::string out_ = errors_of(text);                                                       \
    const std::string want_ =                                                                       \
        "test.lat:" + std::to_string(line) + ":" + std::to_string(col) + ": error: " + (message) + "\n"; \
    BOOST_TEST(out_.find(want_) != std::string::npos, "expected\n  " << want_ << "got\n" << out_);  \
    BOOST_TEST(count(out_, ": error: ") == 1u, "expected exactly one error, got\n" << out_);        \
  } while (0)

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

// ------------------------------------------------------------------ error cases

BOOST_AUTO_TEST_CASE(undefined_variable) {
  CHECK_ONE_ERROR("parameters {\n  real y;\n}\nmodel {\n  y ~ normal(mu, 1);\n}\n", 5, 14,
                  "variable 'mu' is not defined");
}

BOOST_AUTO_TEST_CASE(duplicate_declaration) {
  CHECK_ONE_ERROR("parameters {\n  real theta;\n  vector[3] theta;\n}\n", 3, 13,
                  "'theta' is already declared (at line 2)");
}

BOOST_AUTO_TEST_CASE(duplicate_across_blocks) {
  CHECK_ONE_ERROR("data {\n  int N;\n}\nparameters {\n  real N;\n}\n", 5, 8,
                  "'N' is already declared (at line 2)");
}

BOOST_AUTO_TEST_CASE(shadowing_an_enclosing_scope) {
  CHECK_ONE_ERROR("model {\n  real x = 1;\n  for (i in 1:3) {\n    real x = 2;\n  }\n}\n", 4, 10,
                  "'x' is already declared (at line 2)");
}

BOOST_AUTO_TEST_CASE(loop_variable_shadows) {
  CHECK_ONE_ERROR("data {\n  int i;\n}\nmodel {\n  for (i in 1:3) {\n  }\n}\n", 5, 3,
                  "'i' is already declared (at line 2)");
}

BOOST_AUTO_TEST_CASE(assign_to_data) {
  CHECK_ONE_ERROR("data {\n  int N;\n}\ntransformed data {\n  N = 3;\n}\n", 5, 3,
                  "cannot assign to 'N': data variables are read-only");
}

BOOST_AUTO_TEST_CASE(assign_to_parameter) {
  CHECK_ONE_ERROR("parameters {\n  vector[2] theta;\n}\nmodel {\n  theta[1] = 0;\n}\n", 5, 3,
                  "cannot assign to 'theta': parameters are read-only");
}

BOOST_AUTO_TEST_CASE(assign_to_transformed_parameter_outside_its_block) {
  CHECK_ONE_ERROR(
      "parameters {\n  real a;\n}\ntransformed parameters {\n  real b = a;\n}\nmodel {\n  b = 2;\n}\n", 8, 3,
      "cannot assign to 'b': a transformed parameter can only be assigned in the transformed parameters "
      "block");
}

BOOST_AUTO_TEST_CASE(assign_to_loop_variable) {
  CHECK_ONE_ERROR("model {\n  for (i in 1:3) {\n    i = 2;\n  }\n}\n", 3, 5, "cannot assign to loop variable 'i'");
}

BOOST_AUTO_TEST_CASE(integer_parameter) {
  CHECK_ONE_ERROR("parameters {\n  int K;\n}\n", 2, 7,
                  "parameter 'K' cannot be int: parameters must be real-valued");
}

BOOST_AUTO_TEST_CASE(add_vector_and_matrix) {
  CHECK_ONE_ERROR("data {\n  vector[3] v;\n  matrix[3, 3] m;\n}\ntransformed data {\n  vector[3] w = v + m;\n}\n",
                  6, 17, "cannot add vector and matrix");
}

BOOST_AUTO_TEST_CASE(multiply_vectors) {
  CHECK_ONE_ERROR("data {\n  vector[3] v;\n}\ntransformed data {\n  vector[3] w = v * v;\n}\n", 5, 17,
                  "cannot multiply vector by vector (use .* for elementwise multiplication)");
}

BOOST_AUTO_TEST_CASE(too_many_indexes) {
  CHECK_ONE_ERROR("data {\n  vector[3] x;\n}\ntransformed data {\n  real z = x[1, 2];\n}\n", 5, 12,
                  "wrong number of indexes for 'x' of type vector: 2 given, at most 1");
}

BOOST_AUTO_TEST_CASE(real_index) {
  CHECK_ONE_ERROR("data {\n  vector[3] x;\n}\ntransformed data {\n  real z = x[1.5];\n}\n", 5, 14,
                  "index must be int or array[] int, found real");
}

BOOST_AUTO_TEST_CASE(unknown_function) {
  CHECK_ONE_ERROR("parameters {\n  real x;\n}\nmodel {\n  target += foo(x);\n}\n", 5, 13,
                  "unknown function 'foo'");
}

BOOST_AUTO_TEST_CASE(tilde_outside_model) {
  CHECK_ONE_ERROR("data {\n  real y;\n}\ntransformed data {\n  y ~ normal(0, 1);\n}\n", 5, 3,
                  "~ statements are only allowed in the model block, not in transformed data");
}

BOOST_AUTO_TEST_CASE(target_outside_model) {
  CHECK_ONE_ERROR("parameters {\n  real x;\n}\ngenerated quantities {\n  target += x;\n}\n", 5, 3,
                  "target += is only allowed in the model block, not in generated quantities");
}

BOOST_AUTO_TEST_CASE(break_outside_loop) {
  CHECK_ONE_ERROR("model {\n  if (1) {\n    break;\n  }\n}\n", 3, 5, "break is only allowed inside a loop");
}

BOOST_AUTO_TEST_CASE(vector_condition) {
  CHECK_ONE_ERROR("data {\n  vector[2] v;\n}\nmodel {\n  if (v) {\n  }\n}\n", 5, 7,
                  "condition of if must be int or real, found vector");
}

BOOST_AUTO_TEST_CASE(real_loop_bound) {
  CHECK_ONE_ERROR("data {\n  real M;\n}\nmodel {\n  for (i in 1:M) {\n  }\n}\n", 5, 15,
                  "upper bound of the for loop must be int, found real");
}

BOOST_AUTO_TEST_CASE(real_size) {
  CHECK_ONE_ERROR("data {\n  real M;\n  vector[M] v;\n}\n", 3, 10, "size of 'v' must be int, found real");
}

BOOST_AUTO_TEST_CASE(size_depends_on_parameter) {
  CHECK_ONE_ERROR(
      "data {\n  int N;\n}\nparameters {\n  real s;\n}\ntransformed parameters {\n  vector[N + s > 0] v;\n}\n", 8,
      14,
      "size of 'v' may only depend on data and transformed data, but 's' is a parameter");
}

BOOST_AUTO_TEST_CASE(use_before_declaration) {
  CHECK_ONE_ERROR("data {\n  vector[N] y;\n  int N;\n}\n", 2, 10,
                  "variable 'N' is used before its declaration (at line 3)");
}

BOOST_AUTO_TEST_CASE(model_local_not_visible_in_generated_quantities) {
  CHECK_ONE_ERROR("model {\n  real z = 1;\n}\ngenerated quantities {\n  real w = z;\n}\n", 5, 12,
                  "variable 'z' is local to the model block and is not visible in generated quantities");
}

BOOST_AUTO_TEST_CASE(assign_wrong_type) {
  CHECK_ONE_ERROR("data {\n  matrix[2, 2] m;\n}\ntransformed data {\n  vector[2] v;\n  v = m;\n}\n", 6, 7,
                  "cannot assign a value of type matrix to 'v' of type vector");
}

BOOST_AUTO_TEST_CASE(initialise_wrong_type) {
  CHECK_ONE_ERROR("transformed data {\n  int n = 2.5;\n}\n", 2, 11,
                  "cannot initialise 'n' of type int with a value of type real");
}

BOOST_AUTO_TEST_CASE(compound_assignment_changes_type) {
  CHECK_ONE_ERROR("transformed data {\n  int n = 2;\n  n += 0.5;\n}\n", 3, 3,
                  "cannot use += on 'n' of type int: the result has type real");
}

BOOST_AUTO_TEST_CASE(vector_bounds) {
  // A bound of the variable's own type applies element by element (sizes are checked when lowering).
  BOOST_CHECK_NO_THROW(checked("data {\n  vector[2] lo;\n}\nparameters {\n  vector<lower=lo>[2] x;\n}\n"));
  CHECK_ONE_ERROR("data {\n  matrix[2, 2] lo;\n}\nparameters {\n  vector<lower=lo>[2] x;\n}\n", 5, 16,
                  "lower bound of 'x' must be int or real, found matrix");
}

BOOST_AUTO_TEST_CASE(int_with_real_bound) {
  CHECK_ONE_ERROR("data {\n  int<lower=0.5> N;\n}\n", 2, 13, "lower bound of int variable 'N' must be int, found real");
}

BOOST_AUTO_TEST_CASE(local_with_constraint) {
  CHECK_ONE_ERROR("model {\n  real<lower=0> s = 1;\n}\n", 2, 17, "local variable 's' cannot have constraints");
}

BOOST_AUTO_TEST_CASE(local_simplex) {
  CHECK_ONE_ERROR("model {\n  simplex[3] s;\n}\n", 2, 14, "local variable 's' cannot have the constrained type simplex");
}

BOOST_AUTO_TEST_CASE(missing_conditional_bar) {
  CHECK_ONE_ERROR("parameters {\n  real x;\n}\nmodel {\n  target += normal_lpdf(x, 0, 1);\n}\n", 5, 13,
                  "'normal_lpdf' needs '|' after its first argument: normal_lpdf(y | ...)");
}

BOOST_AUTO_TEST_CASE(tilde_with_suffix) {
  CHECK_ONE_ERROR("parameters {\n  real x;\n}\nmodel {\n  x ~ normal_lpdf(0, 1);\n}\n", 5, 3,
                  "a ~ statement names the distribution without its suffix: write '~ normal(...)', not '~ "
                  "normal_lpdf(...)'");
}

BOOST_AUTO_TEST_CASE(ternary_branches) {
  CHECK_ONE_ERROR("data {\n  vector[2] v;\n}\ntransformed data {\n  real x = 1 ? v : 2.0;\n}\n", 5, 12,
                  "the branches of ?: have incompatible types vector and real");
}

BOOST_AUTO_TEST_CASE(row_vector_literal_of_vectors) {
  CHECK_ONE_ERROR("data {\n  vector[2] v;\n}\ntransformed data {\n  matrix[2, 2] m = [v, v];\n}\n", 5, 20,
                  "row vector expression [...] needs all scalars (a row_vector) or all row_vectors (a matrix), "
                  "found vector");
}

BOOST_AUTO_TEST_CASE(foreach_over_int) {
  CHECK_ONE_ERROR("data {\n  int N;\n}\nmodel {\n  for (i in N) {\n  }\n}\n", 5, 13,
                  "cannot loop over int (foreach needs an array, vector, row_vector or matrix)");
}

BOOST_AUTO_TEST_CASE(non_void_call_statement) {
  CHECK_ONE_ERROR("data {\n  vector[2] v;\n}\nmodel {\n  sum(v);\n}\n", 5, 3,
                  "the result of 'sum' (of type real) is not used; only functions returning void can be statements");
}

BOOST_AUTO_TEST_CASE(used_in_own_declaration) {
  CHECK_ONE_ERROR("transformed data {\n  real x = x + 1;\n}\n", 2, 12, "variable 'x' is used in its own declaration");
}

BOOST_AUTO_TEST_CASE(generated_quantity_used_in_model) {
  CHECK_ONE_ERROR("model {\n  target += y_rep;\n}\ngenerated quantities {\n  real y_rep = 1;\n}\n", 2, 13,
                  "variable 'y_rep' is declared later, in the generated quantities block (line 5), and is not "
                  "visible in model");
}

BOOST_AUTO_TEST_CASE(assign_to_transformed_data_in_generated_quantities) {
  CHECK_ONE_ERROR("transformed data {\n  real c = 1;\n}\ngenerated quantities {\n  c = 2;\n}\n", 5, 3,
                  "cannot assign to 'c': a transformed data variable can only be assigned in the transformed data "
                  "block");
}

BOOST_AUTO_TEST_CASE(integer_transformed_parameter) {
  CHECK_ONE_ERROR("transformed parameters {\n  int k = 1;\n}\n", 2, 7,
                  "transformed parameter 'k' cannot be int: transformed parameters must be real-valued");
}

BOOST_AUTO_TEST_CASE(lupdf_outside_model) {
  CHECK_ONE_ERROR("parameters {\n  real x;\n}\ngenerated quantities {\n  real lp = normal_lupdf(x | 0, 1);\n}\n", 5,
                  13, "'normal_lupdf' can only be used in the model block (use normal_lpdf)");
}

BOOST_AUTO_TEST_CASE(target_function_outside_model) {
  CHECK_ONE_ERROR("generated quantities {\n  real t = target();\n}\n", 2, 12,
                  "target() is only available in the model and transformed parameters blocks");
}

BOOST_AUTO_TEST_CASE(conditional_bar_on_plain_function) {
  CHECK_ONE_ERROR("transformed data {\n  real e = exp(1 | 2);\n}\n", 2, 12,
                  "only density and distribution functions (_lpdf, _lpmf, _lcdf, ...) use '|' between arguments, "
                  "not 'exp'");
}

BOOST_AUTO_TEST_CASE(modulus_of_reals) {
  CHECK_ONE_ERROR("transformed data {\n  real e = 2.5 % 2;\n}\n", 2, 12,
                  "operator % needs int operands, found real and int");
}

BOOST_AUTO_TEST_CASE(transpose_of_array) {
  CHECK_ONE_ERROR("data {\n  array[2] real a;\n}\ntransformed data {\n  array[2] real b = a';\n}\n", 5, 21,
                  "cannot transpose array[] real (only vector, row_vector and matrix)");
}

BOOST_AUTO_TEST_CASE(matrix_times_row_vector) {
  CHECK_ONE_ERROR(
      "data {\n  matrix[2, 2] m;\n  row_vector[2] r;\n}\ntransformed data {\n  vector[2] b = m * r;\n}\n", 6, 17,
      "cannot multiply matrix by row_vector");
}

BOOST_AUTO_TEST_CASE(array_literal_mixed) {
  CHECK_ONE_ERROR("data {\n  vector[2] v;\n}\ntransformed data {\n  array[2] real a = {1, v};\n}\n", 5, 21,
                  "array expression elements must have the same type, found int and vector");
}

BOOST_AUTO_TEST_CASE(while_condition) {
  CHECK_ONE_ERROR("data {\n  array[2] int a;\n}\nmodel {\n  while (a) {\n  }\n}\n", 5, 10,
                  "condition of while must be int or real, found array[] int");
}

BOOST_AUTO_TEST_CASE(ternary_real_condition) {
  CHECK_ONE_ERROR("transformed data {\n  real x = 0.5 ? 1 : 2;\n}\n", 2, 12, "condition of ?: must be int, found real");
}

BOOST_AUTO_TEST_CASE(range_bound_real) {
  CHECK_ONE_ERROR("data {\n  vector[4] v;\n}\ntransformed data {\n  vector[2] w = v[1.0:2];\n}\n", 5, 19,
                  "range bound must be int, found real");
}

BOOST_AUTO_TEST_CASE(wrong_call_signature_reports_at_call) {
  // The library explains the mismatch; the checker puts it at the call.
  const std::string out =
      errors_of("data {\n  matrix[2, 2] m;\n}\ntransformed data {\n  real s = log_sum_exp(m, m, m);\n}\n");
  BOOST_TEST(out.find("test.lat:5:12: error: ") != std::string::npos, out);
  BOOST_TEST(count(out, ": error: ") == 1u, out);
}

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
