// plan_loop (compiler/lower/loop_plan.hpp) on parsed `for` statements: loops
// whose iterations are independent are planned as symbolic, with the variables
// they define element-wise (`generated`) and accumulate (`accumulated`); a
// carried dependence makes the plan unroll, with a reason. Then lowering follows
// the plan: a symbolic loop becomes IR loop nodes, an unrolled one none.
#define BOOST_TEST_MODULE loop_plan
#include "tests/support/model_fixture.hpp"

#include "compiler/driver/pipeline.hpp"
#include "compiler/ir/ir.hpp"
#include "compiler/lower/loop_plan.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "data/json_data.hpp"

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>

using namespace latent;
using namespace latent::testing;
using ir::NodeP;
using ir::Op;
using Names = std::set<std::string>;

namespace {

std::shared_ptr<const ast::Program> parse_text(const std::string& text) {
  return driver::parse(std::make_shared<SourceFile>(SourceFile{"test.lat", text}));
}

// The first statement of a kind (searching nested blocks).
const ast::Stmt* first_of(const ast::Stmt& s, ast::StmtKind kind) {
  if (s.kind == kind) return &s;
  if (s.kind == ast::StmtKind::Block)
    for (const auto& x : s.stmts)
      if (const ast::Stmt* f = first_of(*x, kind)) return f;
  return nullptr;
}

// The first statement of a kind in the model block.
const ast::Stmt& first_in_model(const ast::Program& program, ast::StmtKind kind) {
  const ast::Block* model = program.find(ast::BlockKind::Model);
  BOOST_REQUIRE(model);
  for (const auto& s : model->stmts)
    if (const ast::Stmt* f = first_of(*s, kind)) return *f;
  BOOST_FAIL("no statement of the kind in the model block");
  throw std::logic_error("unreachable");
}

LoopPlan plan_of(const ast::Program& program) { return plan_loop(first_in_model(program, ast::StmtKind::For)); }

LoopPlan plan_of(const std::string& model_block, const std::string& declarations) {
  return plan_of(*parse_text(declarations + "\nmodel {\n" + model_block + "\n}\n"));
}

const char* kDeclarations = R"(
data { int N; int T; vector[N] y; matrix[N, T] Y; }
parameters { real mu; vector[N] theta; })";

const char* kData = R"({"N": 3, "T": 4, "y": [0.5, 1.5, -0.2],
  "Y": [[1, 2, 3, 4], [0.5, 0.25, 0.125, 1], [-1, 0, 1, 2]]})";

LoopPlan plan(const std::string& model_block) { return plan_of(model_block, kDeclarations); }

// Nodes of the given ops anywhere in the lowered model.
int nodes_of(const LoweredProgram& lp, const std::set<Op>& ops) {
  std::vector<NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  int count = 0;
  for (NodeP n : ir::topological_order(roots)) count += ops.count(n->op) > 0;
  return count;
}

// Loop nodes anywhere in the lowered model.
int loop_nodes(const LoweredProgram& lp) { return nodes_of(lp, {Op::LoopSum, Op::LoopGen}); }

// A LoopSum whose body contains another LoopSum.
bool nested_loop_sum(const LoweredProgram& lp) {
  for (const Term& t : lp.terms)
    for (NodeP n : ir::topological_order({t.value}))
      if (n->op == Op::LoopSum)
        for (NodeP m : ir::topological_order({n->args[2]}))
          if (m->op == Op::LoopSum) return true;
  return false;
}

}  // namespace

// ============================================================================================
// Independent iterations: symbolic
// ============================================================================================

BOOST_AUTO_TEST_SUITE(symbolic)

BOOST_AUTO_TEST_CASE(target_increments_only) {
  LoopPlan p = plan("for (n in 1:N) y[n] ~ normal(mu + theta[n], 1);");
  BOOST_TEST(p.symbolic);
  BOOST_TEST(p.why_unrolled.empty());
  BOOST_TEST(p.generated.empty());
  BOOST_TEST(p.accumulated.empty());
}

BOOST_AUTO_TEST_CASE(element_wise_definitions_and_accumulators) {
  LoopPlan p = plan(R"(
  vector[N] z;
  real acc = 0;
  real total = 0;
  for (n in 1:N) {
    real local = theta[n] * 2;  // declared in the body: private to the iteration
    z[n] = exp(local);
    acc += z[n] * mu;
    total -= y[n];
    target += normal_lpdf(y[n] | z[n], 1);
  }
  target += acc + total;)");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST(p.generated == (Names{"z"}), boost::test_tools::per_element());
  BOOST_TEST(p.accumulated == (Names{"acc", "total"}), boost::test_tools::per_element());
}

// `v[k] += ...` with k not the loop variable accumulates into v (the same element
// in every iteration of a loop over j); `v[n] += ...` defines v[n] element-wise.
BOOST_AUTO_TEST_CASE(adding_to_an_element_accumulates) {
  LoopPlan p = plan(R"(
  vector[N] v = theta;
  vector[N] w = theta;
  for (j in 1:N) {
    v[2] += y[j] * mu;
    w[j] += mu;
  }
  target += sum(v) + sum(w);)");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST(p.accumulated == (Names{"v"}), boost::test_tools::per_element());
  BOOST_TEST(p.generated == (Names{"w"}), boost::test_tools::per_element());
}

// v[n] read and written at the loop index only: still independent.
BOOST_AUTO_TEST_CASE(reading_the_element_being_defined) {
  LoopPlan p = plan(R"(
  vector[N] v = theta;
  for (n in 1:N) v[n] = v[n] * mu;
  target += sum(v);)");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST(p.generated == (Names{"v"}), boost::test_tools::per_element());
}

// The first index is the loop variable; later indexes may be anything.
BOOST_AUTO_TEST_CASE(a_row_defined_element_by_element) {
  LoopPlan p = plan(R"(
  matrix[N, 2] m = rep_matrix(0, N, 2);
  for (n in 1:N) m[n, 2] = theta[n];
  target += sum(m);)");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST(p.generated == (Names{"m"}), boost::test_tools::per_element());
}

// A variable declared outside but overwritten in full before it is read, in
// every iteration, is local to the iteration (posteriordb's normal_mixture_k).
BOOST_AUTO_TEST_CASE(overwritten_before_read) {
  LoopPlan p = plan(R"(
  real s;
  array[3] real ps;
  for (n in 1:N) {
    s = y[n] * mu;
    for (k in 1:3) ps[k] = s * k;
    target += s + log_sum_exp(ps);
  })");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST(p.overwritten.size() == 2u);
  BOOST_TEST(p.overwritten.count("s"));
  BOOST_TEST(p.overwritten.count("ps"));
  BOOST_TEST(p.overwritten.at("s") == nullptr);  // by an assignment, not by a loop
}

BOOST_AUTO_TEST_CASE(nested_independent_loops) {
  LoopPlan p = plan("for (i in 1:N) for (t in 1:T) Y[i, t] ~ normal(mu, 1);");
  BOOST_TEST(p.symbolic, p.why_unrolled);
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Carried dependences: unrolled, with the reason
// ============================================================================================

BOOST_AUTO_TEST_SUITE(unrolled)

namespace {
void expect_unrolled(const std::string& model_block, const std::string& reason) {
  BOOST_TEST_CONTEXT(model_block) {
    LoopPlan p = plan(model_block);
    BOOST_TEST(!p.symbolic);
    BOOST_TEST(contains(p.why_unrolled, reason), "why_unrolled is '" << p.why_unrolled << "', expected '" << reason << "'");
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_recursion) {
  expect_unrolled(R"(
  vector[N] x;
  x[1] = theta[1];
  for (t in 2:N) x[t] = mu * x[t - 1] + theta[t];
  target += sum(x);)",
                  "'x' carries a value from one iteration to the next");
}

BOOST_AUTO_TEST_CASE(a_scalar_read_before_it_is_overwritten) {
  expect_unrolled(R"(
  real s = 0;
  for (n in 1:N) {
    target += s;
    s = y[n] * mu;
  })",
                  "'s' carries");
  expect_unrolled(R"(
  real s = 0;
  for (n in 1:N) {
    if (n > 1) s = y[n] * mu;
    target += s;
  })",
                  "'s' carries");
  expect_unrolled(R"(
  real s = 0;
  for (n in 1:N) s = s + y[n] * mu;
  target += s;)",
                  "'s' carries");
}

// acc += ... is an accumulator only while the body never reads acc.
BOOST_AUTO_TEST_CASE(an_accumulator_read_in_the_body) {
  expect_unrolled(R"(
  real acc = 0;
  for (n in 1:N) {
    acc += y[n];
    target += acc * mu;
  })",
                  "'acc' carries");
}

BOOST_AUTO_TEST_CASE(an_element_read_at_another_index) {
  expect_unrolled(R"(
  vector[N] z;
  for (n in 1:N) {
    z[n] = theta[n];
    target += z[1] * mu;
  })",
                  "'z' carries");
}

// break and continue are masked (test_scan): a continue keeps a loop symbolic, a
// break makes it a Scan carrying its flag; those of an inner loop are its own.
BOOST_AUTO_TEST_CASE(break_and_continue) {
  LoopPlan p = plan("for (n in 1:N) { if (n == 2) continue; target += y[n] * mu; }");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST((p.continues && !p.breaks));
  p = plan("for (n in 1:N) { if (n > 2) break; target += y[n] * mu; }");
  BOOST_TEST(!p.symbolic);
  BOOST_TEST(p.why_unrolled == "it may break out of the loop");
  BOOST_TEST((p.scannable && p.breaks && !p.continues));
  BOOST_TEST(p.carried.count(kBroken) == 1u);
  p = plan("for (n in 1:N) { for (k in 1:N) { if (k > n) break; target += mu; } }");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST((!p.breaks && !p.continues));
  // Overwritten first, but after a continue: carried (the value after the loop is the last one written).
  p = plan("real s; for (n in 1:N) { if (n == 2) continue; s = y[n] * mu; target += s; }");
  BOOST_TEST(p.overwritten.empty());
  BOOST_TEST(p.carried.count("s") == 1u);
}

BOOST_AUTO_TEST_CASE(while_foreach_and_target) {
  expect_unrolled("for (n in 1:N) { int k = 0; while (k < n) k += 1; target += k * mu; }", "it contains a while loop");
  expect_unrolled("for (n in 1:N) { for (v in y) target += v * mu; }", "it contains a foreach loop");
  expect_unrolled("for (n in 1:N) { target += y[n] * mu; print(target()); }", "it reads target()");
}

// A nested loop that must unroll makes the loop around it unroll too; one with
// carried state (a Scan) whose bounds are known before the body does not.
BOOST_AUTO_TEST_CASE(nested_loops_with_a_carried_inner_loop) {
  expect_unrolled(R"(
  for (i in 1:N) {
    for (t in 1:T) { while (0) { } target += mu; }
  })",
                  "it contains a while loop");
  expect_unrolled(R"(
  vector[T] x;
  for (i in 1:N) {
    x[1] = theta[i];
    for (t in 2:T) x[t] = mu * x[t - 1];
    target += sum(x);
  })",
                  "'x' carries a value from one iteration to the next");
  // The inner loop's bounds depend on the outer variable: it cannot be a Scan inside a symbolic body.
  expect_unrolled(R"(
  vector[T] x = rep_vector(0, T);
  for (i in 1:N) {
    for (t in 2:i) x[t] = mu * x[t - 1];
  }
  target += sum(x);)",
                  "a nested loop is unrolled ('x' carries");
  // Defining a row element by element inside the inner loop: the inner loop carries
  // m, the outer one defines m[i] element-wise around it.
  LoopPlan p = plan(R"(
  matrix[N, T] m;
  for (i in 1:N)
    for (t in 1:T) m[i, t] = Y[i, t] * mu;
  target += sum(m);)");
  BOOST_TEST(p.symbolic, p.why_unrolled);
  BOOST_TEST(p.generated == (Names{"m"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

// ============================================================================================
// Lowering follows the plan
// ============================================================================================

BOOST_AUTO_TEST_SUITE(lowering_follows_the_plan)

BOOST_AUTO_TEST_CASE(symbolic_plans_give_loop_nodes_and_unrolled_plans_none) {
  const std::vector<std::string> bodies{
      "for (n in 1:N) y[n] ~ normal(mu + theta[n], 1);",
      "vector[N] z; real acc = 0; for (n in 1:N) { z[n] = exp(theta[n]); acc += z[n] * mu; } "
      "y ~ normal(z, 1); target += acc;",
      "for (i in 1:N) for (t in 1:T) Y[i, t] ~ normal(mu, 1);",
      "vector[N] x; x[1] = theta[1]; for (t in 2:N) x[t] = mu * x[t - 1] + theta[t]; target += sum(x);",
      "real s; for (n in 1:N) { s = y[n] * mu; target += s; }",
      "real s = 1; for (n in 1:N) { target += s; s = y[n] * mu; }",
      "real acc = 0; for (n in 1:N) { acc += y[n]; target += acc * mu; }",
      "for (n in 1:N) { int k = 0; while (k < n) k += 1; target += k * mu; }",
      "matrix[N, T] m; for (i in 1:N) for (t in 1:T) m[i, t] = Y[i, t] * mu; target += sum(m);",
  };
  int symbolic = 0, unrolled = 0;
  for (const std::string& body : bodies) {
    BOOST_TEST_CONTEXT(body) {
      auto program = parse_text(std::string(kDeclarations) + "\nmodel {\n" + body + "\n}\n");
      LoopPlan p = plan_of(*program);
      LoweredProgram lp = driver::lower(*program, DataSet::from_json_string(kData, "data.json"));
      if (p.symbolic) {
        ++symbolic;
        BOOST_TEST(loop_nodes(lp) > 0, "a symbolic plan lowered without loop nodes");
      } else {
        ++unrolled;
        BOOST_TEST(loop_nodes(lp) == 0, "an unrolled plan (" << p.why_unrolled << ") lowered with loop nodes");
      }
    }
  }
  BOOST_TEST(symbolic == 5);
  BOOST_TEST(unrolled == 4);
}

BOOST_AUTO_TEST_CASE(nested_symbolic_loops_give_nested_loop_sums) {
  auto program = parse_text(std::string(kDeclarations) + "\nmodel { for (i in 1:N) for (t in 1:T) Y[i, t] ~ normal(mu, 1); }");
  LoweredProgram lp = driver::lower(*program, DataSet::from_json_string(kData, "data.json"));
  BOOST_TEST(nested_loop_sum(lp));
}

// The plan is made from the body alone; lowering can still unroll a symbolic plan
// when an element-wise definition covers only part of the variable.
BOOST_AUTO_TEST_CASE(a_partial_element_wise_definition_is_unrolled_by_lowering) {
  auto program = parse_text(std::string(kDeclarations) +
                            "\nmodel { vector[N] z = theta; for (n in 2:N) z[n] = exp(theta[n]); target += sum(z) * mu; }");
  LoopPlan p = plan_of(*program);
  BOOST_TEST(p.symbolic);
  BOOST_TEST(p.generated == (Names{"z"}), boost::test_tools::per_element());
  LoweredProgram lp = driver::lower(*program, DataSet::from_json_string(kData, "data.json"));
  BOOST_TEST(loop_nodes(lp) == 0);
}

// Iteration-local variables: the symbolic loop gives the unrolled loop's log
// density and gradient, and after the loop the variables hold the last
// iteration's values (here checked against the closed form too).
BOOST_AUTO_TEST_CASE(overwritten_variables_agree_with_the_unrolled_loop) {
  const std::string data = R"({"N": 4, "y": [1, 2, 3, 5]})";
  auto model_with = [](const std::string& first_in_body) {
    return "data { int N; vector[N] y; }\nparameters { real mu; }\nmodel {\n  real t = 0;\n  vector[3] v;\n"
           "  for (n in 1:N) {\n" + first_in_body + "    t = y[n] - mu;\n    for (k in 1:3) v[k] = t * k;\n"
           "    target += -0.5 * t^2 + 0.01 * sum(v);\n  }\n  target += 0.1 * t + 0.2 * v[2];\n}\n";
  };
  auto symbolic = make_model(model_with(""), data);
  // Reading t before the body overwrites it makes t carried: the loop is unrolled.
  auto unrolled = make_model(model_with("    target += 0 * t;\n"), data);
  BOOST_TEST(plan_of(*parse_text(model_with(""))).symbolic);
  BOOST_TEST(!plan_of(*parse_text(model_with("    target += 0 * t;\n"))).symbolic);
  for (double mu : {0.5, -1.25, 3.0}) {
    // sum_n [-(y_n - mu)^2 / 2 + 0.06 (y_n - mu)] + 0.1 (y_N - mu) + 0.4 (y_N - mu)
    double expected = 0, slope = 0;
    for (double y : {1.0, 2.0, 3.0, 5.0}) {
      expected += -0.5 * (y - mu) * (y - mu) + 0.06 * (y - mu);
      slope += (y - mu) - 0.06;
    }
    expected += 0.5 * (5 - mu);
    slope -= 0.5;
    BOOST_TEST(lp(*symbolic, {mu}) == expected, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(lp(*unrolled, {mu}) == expected, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(gradient(*symbolic, {mu})[0] == slope, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(gradient(*unrolled, {mu})[0] == slope, boost::test_tools::tolerance(1e-12));
  }
}

// An inner loop that updates each element in place (v[k] = v[k] + ..., or one
// entry of each row) does not overwrite the variable: it stays carried.
BOOST_AUTO_TEST_CASE(an_inner_loop_updating_elements_in_place_is_no_overwrite) {
  for (const char* inner : {"for (k in 1:3) v[k] = v[k] + y[n] * mu;", "for (k in 1:3) { target += v[k]; v[k] = y[n]; }"}) {
    LoopPlan p = plan(std::string("vector[3] v = rep_vector(0, 3);\nfor (n in 1:N) {\n") + inner + "\ntarget += sum(v);\n}");
    BOOST_TEST(!p.symbolic, inner);
    BOOST_TEST(!p.overwritten.count("v"), inner);
  }
  LoopPlan p = plan("matrix[3, N] m = rep_matrix(0, 3, N);\nfor (j in 1:N) { for (l in 1:3) m[l, j] = mu; }\ntarget += sum(m);");
  BOOST_TEST(!p.symbolic);
  BOOST_TEST(p.carried.count("m"));
}

// An inner loop that overwrites only part of the variable leaves it carried.
BOOST_AUTO_TEST_CASE(a_partial_overwrite_by_an_inner_loop_is_unrolled) {
  auto program = parse_text(std::string(kDeclarations) + R"(
model {
  vector[3] v = rep_vector(0, 3);
  for (n in 1:N) {
    for (k in 1:2) v[k] = y[n] * k * mu;
    target += sum(v);
  }
})");
  LoopPlan p = plan_of(*program);
  BOOST_TEST(p.symbolic);
  BOOST_TEST(p.overwritten.count("v"));
  LoweredProgram lp = driver::lower(*program, DataSet::from_json_string(kData, "data.json"));
  BOOST_TEST(loop_nodes(lp) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// A slice whose bounds move with the loop variable, together (y[i:(i + 2)]): a
// symbolic loop with a sliding window, its length known; values and gradient
// against the closed form.
BOOST_AUTO_TEST_CASE(a_slice_moving_with_the_loop_variable) {
  const std::string model = R"(
data { int N; vector[N] y; }
parameters { real mu; }
model {
  for (i in 1:(N - 2)) {
    target += -0.5 * dot_self(y[i:(i + 2)] - mu) + 0.1 * sum(y[(i + 1):(i + 2)]) * mu;
  }
}
)";
  BOOST_TEST(plan_of(*parse_text(model)).symbolic);
  auto m = make_model(model, R"({"N": 6, "y": [1, 2, 3, 4, 5, 7]})");
  std::vector<double> y{1, 2, 3, 4, 5, 7};
  for (double mu : {0.5, -1.0}) {
    double value = 0, slope = 0;
    for (size_t i = 0; i + 2 < y.size(); ++i) {
      for (size_t j = i; j <= i + 2; ++j) {
        value += -0.5 * (y[j] - mu) * (y[j] - mu);
        slope += y[j] - mu;
      }
      value += 0.1 * (y[i + 1] + y[i + 2]) * mu;
      slope += 0.1 * (y[i + 1] + y[i + 2]);
    }
    BOOST_TEST(lp(*m, {mu}) == value, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(gradient(*m, {mu})[0] == slope, boost::test_tools::tolerance(1e-12));
  }
}

// Sizes that change from one iteration to the next (a slice 1:i, head(y, i - 1), a
// local vector[i], also through a variable computed from i) make the loop unroll, with
// the reason; sizes that stay fixed (a local's size from data, or from a variable the
// body sets to data) do not, nor do slices (functions or ranges) read directly by a
// reduction that zeros do not change (padded: sum, dot_self, dot_product).
BOOST_AUTO_TEST_CASE(sizes_that_change_with_the_loop_variable) {
  for (const char* body : {"target += mean(y[1:i]) * mu;", "target += mean(head(y, i)) * mu;",
                           "int n = i - 1; target += sum(segment(y, 1, n + 1) .* y[1:(n + 1)]) * mu;",
                           "vector[i] v = rep_vector(mu, i); target += sum(v);",
                           "target += sum(Y[1:i, 1]) * mu;"}) {
    LoopPlan p = plan(std::string("for (i in 1:N) { ") + body + " }");
    BOOST_TEST(!p.symbolic, body);
    BOOST_TEST(contains(p.why_unrolled, "may change from one iteration to the next"), body << ": " << p.why_unrolled);
  }
  for (const char* body : {"target += sum(y[1:N]) * mu * i;", "int n = N; target += sum(head(y, n)) * mu * i;",
                           "vector[T] v = rep_vector(mu * i, T); target += sum(v);",
                           "target += sum(y[i:(i + 0)]) * mu;", "target += sum(head(y, i)) * mu;",
                           "int n = i - 1; target += dot_self(segment(y, 1, n + 1)) * mu;",
                           "target += dot_product(head(y, i), tail(y, i)) * mu;", "target += sum(y[1:i]) * mu;",
                           "target += dot_product(y[1:i], y[(N - i + 1):N]) * mu;"}) {
    LoopPlan p = plan(std::string("for (i in 1:N) { ") + body + " }");
    BOOST_TEST(p.symbolic, body << ": " << p.why_unrolled);
  }
}

// An inner loop whose bounds follow the outer loop's variable (a triangular
// loop) defines part of a variable's range: it runs over the whole range with
// its body masked to lo <= j <= hi (Lowerer::masked_for), instead of being
// refused for bounds not known from data.
BOOST_AUTO_TEST_CASE(triangular_loops_are_masked) {
  const std::string text = R"(
data { int D; }
transformed data {
  matrix[D, D] upper = rep_matrix(0, D, D);
  for (i in 1:D) for (j in 1:(i - 1)) upper[j, i] = i + 0.5 * j;
}
parameters { vector[D] theta; }
model {
  matrix[D, D] M = rep_matrix(0, D, D);
  for (i in 1:D) for (j in 1:(i - 1)) M[j, i] = theta[j] * theta[i] + 0.01 * upper[j, i];
  target += -0.5 * sum(square(M)) - 0.5 * dot_self(theta);
}
generated quantities {
  real total = sum(upper);
  real above = upper[2, 5];
  real diagonal_sum = sum(diagonal(upper));
  real below = upper[5, 2];
}
)";
  const int D = 30;
  std::unique_ptr<BoundModel> m = make_model(text, "{\"D\": " + std::to_string(D) + "}");
  std::vector<double> theta(D);
  for (int k = 0; k < D; ++k) theta[static_cast<size_t>(k)] = 0.1 * std::sin(k + 1.0);
  // sum over j < i of (i + j / 2)
  double total = 0;
  for (int i = 1; i <= D; ++i)
    for (int j = 1; j < i; ++j) total += i + 0.5 * j;
  BOOST_TEST(output(*m, theta, "total") == total);
  BOOST_TEST(output(*m, theta, "above") == 5 + 0.5 * 2);
  BOOST_TEST(output(*m, theta, "diagonal_sum") == 0);
  BOOST_TEST(output(*m, theta, "below") == 0);
  check_gradient(*m, theta, true, 1e-6, "triangular loop");
  // Its value against the same sum written out.
  double want = 0;
  for (int i = 1; i <= D; ++i) {
    want -= 0.5 * theta[static_cast<size_t>(i - 1)] * theta[static_cast<size_t>(i - 1)];
    for (int j = 1; j < i; ++j) {
      double v = theta[static_cast<size_t>(j - 1)] * theta[static_cast<size_t>(i - 1)] + 0.01 * (i + 0.5 * j);
      want -= 0.5 * v * v;
    }
  }
  double value = 0;
  gradient(*m, theta, true, &value);
  BOOST_TEST(std::fabs(value - want) < 1e-9 * std::fabs(want), value << " vs " << want);
}

BOOST_AUTO_TEST_CASE(a_masked_loop_outside_the_range_is_an_error) {
  const std::string text = R"(
data { int D; }
transformed data {
  matrix[D, D] upper = rep_matrix(0, D, D);
  for (i in 1:D) for (j in 1:(i + 1)) upper[j, i] = 1;
}
parameters { real mu; }
model { mu ~ normal(0, 1); }
)";
  std::string e = error_of([&] { make_model(text, R"({"D": 4})"); });
  BOOST_TEST(contains(e, "out of range"), e);
  BOOST_TEST(contains(e, ":5:"), e);
  // In the model block the loop is masked; its range is checked when it runs.
  const std::string model = R"(
data { int D; }
parameters { vector[D] theta; }
model {
  matrix[D, D] M = rep_matrix(0, D, D);
  for (i in 1:D) for (j in 1:(i + 1)) M[j, i] = theta[j] * theta[i];
  target += -0.5 * sum(square(M));
}
)";
  std::string run = error_of([&] {  // D = 30: not unrolled
    std::unique_ptr<BoundModel> m = make_model(model, R"({"D": 30})");
    gradient(*m, std::vector<double>(30, 0.5), true, nullptr);
  });
  BOOST_TEST(contains(run, "the loop's range runs outside 1..30, the elements it defines (upper bound = 31)"), run);
  BOOST_TEST(contains(run, ":6:18"), run);
}

// ============================================================================================
// Counted while loops: run as for loops over their trip count
// ============================================================================================

BOOST_AUTO_TEST_SUITE(counted_while_loops)

namespace {

std::optional<CountedWhile> counted(const std::string& model_block) {
  auto program = parse_text(std::string(kDeclarations) + "\nmodel {\n" + model_block + "\n}\n");
  return counted_while(first_in_model(*program, ast::StmtKind::While));
}

int scan_nodes(const LoweredProgram& lp) { return nodes_of(lp, {Op::Scan, Op::ScanLast}); }

}  // namespace

BOOST_AUTO_TEST_CASE(counters_are_recognised) {
  auto c = counted("int t = 1; while (t <= N) { target += y[t] * mu; t += 1; }");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->counter == "t");
  BOOST_TEST(c->step == 1);
  BOOST_TEST(c->op == "<=");
  // the bound on the left (the operator as if the counter were), other steps and forms
  c = counted("int t = N; while (1 < t) { t = t - 2; target += mu; }");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->op == ">");
  BOOST_TEST(c->step == -2);
  c = counted("int t = 0; while (t != 6) { target += mu; t = 3 + t; }");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->step == 3);
  c = counted("int t = N; while (t >= 1) { target += y[t] * mu; t -= 1; }");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->step == -1);
  // A break ends the loop sooner: the count is a bound (test_scan: a_while_loop_with_break).
  c = counted("int t = 1; while (t <= N) { if (y[t] > 1) break; t += 1; }");
  BOOST_TEST_REQUIRE(c.has_value());
  BOOST_TEST(c->step == 1);
}

BOOST_AUTO_TEST_CASE(other_while_loops_are_not_counted) {
  BOOST_TEST(!counted("int t = 1; while (t <= N) { if (y[t] > 1) continue; t += 1; }"));
  BOOST_TEST(!counted("int t = 1; while (t <= N) { if (y[t] > 1) t += 1; t += 1; }"));
  BOOST_TEST(!counted("int t = 1; while (t <= N) { if (y[t] > 1) t += 1; else t += 2; }"));
  BOOST_TEST(!counted("int t = 1; int n = N; while (t <= n) { n -= 1; t += 1; }"));
  BOOST_TEST(!counted("int t = 1; while (t * t <= N) { t += 1; }"));
  BOOST_TEST(!counted("int t = 1; while (t <= N && y[t] > 0) { t += 1; }"));
  BOOST_TEST(!counted("int t = 1; while (t <= N) { t *= 2; }"));
  BOOST_TEST(!counted("int t = 1; while (t <= N) { t += 0; }"));
  BOOST_TEST(!counted("real t = 1; while (t <= N) { t += 1; }"));
}

// A recursion written with while: a Scan, with the unrolled loop's log density,
// gradient (and finite differences), and the counter's value after the loop.
BOOST_AUTO_TEST_CASE(a_counted_recursion_is_a_scan_equal_to_the_unrolled_loop) {
  // (a loop of 16 iterations or fewer is unrolled whatever its form)
  const std::string data = R"({"T": 20, "y": [0.3, -1.2, 0.8, 2.0, -0.4, 1.1, 0.2, 0.9, -0.7, 1.5,
                                             -0.1, 0.6, -1.8, 0.4, 1.3, -0.9, 0.05, 0.7, -0.3, 1.0]})";
  auto model_with = [](const std::string& condition, const std::string& start, const std::string& step,
                       const std::string& index) {
    return "data { int T; array[T] real y; }\nparameters { real<lower=-1, upper=1> rho; real<lower=0> s; }\n"
           "model {\n  real prev = 0;\n  int t = " + start + ";\n  while (" + condition + ") {\n"
           "    y[" + index + "] ~ normal(rho * prev, s);\n    prev = y[" + index + "];\n    " + step + ";\n  }\n"
           "  target += 0.01 * t * rho;\n}\n";
  };
  // Forwards, and backwards over the mirrored index; `&& 1` keeps the loop unrolled.
  for (const auto& [condition, start, step, index] :
       std::vector<std::tuple<std::string, std::string, std::string, std::string>>{
           {"t <= T", "1", "t += 1", "t"}, {"t >= 1", "T", "t -= 1", "T + 1 - t"}}) {
    BOOST_TEST_CONTEXT(condition) {
      auto program = parse_text(model_with(condition, start, step, index));
      LoweredProgram lowered = driver::lower(*program, DataSet::from_json_string(data, "data.json"));
      BOOST_TEST(scan_nodes(lowered) > 0);
      auto as_scan = make_model(model_with(condition, start, step, index), data);
      auto unrolled = make_model(model_with("(" + condition + ") && 1", start, step, index), data);
      for (const std::vector<double>& u : {std::vector<double>{0.3, -0.5}, std::vector<double>{-1.2, 0.4}}) {
        BOOST_TEST(lp(*as_scan, u) == lp(*unrolled, u), boost::test_tools::tolerance(1e-13));
        std::vector<double> g = gradient(*as_scan, u), h = gradient(*unrolled, u);
        for (size_t k = 0; k < g.size(); ++k) BOOST_TEST(g[k] == h[k], boost::test_tools::tolerance(1e-12));
        check_gradient(*as_scan, u);
      }
    }
  }
}

// Longer than any unrolled loop may be (200000 iterations in all): a Scan.
BOOST_AUTO_TEST_CASE(a_long_counted_loop_is_not_unrolled) {
  auto m = make_model(
      "data { int T; }\nparameters { real<lower=0, upper=1> a; }\n"
      "model {\n  real h = 0;\n  int t = 0;\n  while (t < T) { h = a * h + 1; t += 1; }\n"
      "  target += -0.5 * square(h - 2) + 1e-6 * t;\n}\n",
      R"({"T": 300000})");
  // h = (1 - a^T) / (1 - a) = 1 / (1 - a) for a < 1 and T this large.
  for (double a : {0.3, 0.6}) {
    double u = std::log(a / (1 - a));
    double h = 1 / (1 - a);
    double want = -0.5 * (h - 2) * (h - 2) + 1e-6 * 300000 + std::log(a) + std::log(1 - a);
    BOOST_TEST(lp(*m, {u}) == want, boost::test_tools::tolerance(1e-10));
    check_gradient(*m, {u});
  }
}

BOOST_AUTO_TEST_SUITE_END()
