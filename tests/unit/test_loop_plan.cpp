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

#include <set>
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

// The first `for` statement of the model block (searching nested blocks).
const ast::Stmt* first_for(const ast::Stmt& s) {
  if (s.kind == ast::StmtKind::For) return &s;
  if (s.kind == ast::StmtKind::Block)
    for (const auto& x : s.stmts)
      if (const ast::Stmt* f = first_for(*x)) return f;
  return nullptr;
}

LoopPlan plan_of(const ast::Program& program) {
  const ast::Block* model = program.find(ast::BlockKind::Model);
  BOOST_REQUIRE(model);
  for (const auto& s : model->stmts)
    if (const ast::Stmt* f = first_for(*s)) return plan_loop(*f);
  BOOST_FAIL("no for statement in the model block");
  return {};
}

LoopPlan plan_of(const std::string& model_block, const std::string& declarations) {
  return plan_of(*parse_text(declarations + "\nmodel {\n" + model_block + "\n}\n"));
}

const char* kDeclarations = R"(
data { int N; int T; vector[N] y; matrix[N, T] Y; }
parameters { real mu; vector[N] theta; })";

const char* kData = R"({"N": 3, "T": 4, "y": [0.5, 1.5, -0.2],
  "Y": [[1, 2, 3, 4], [0.5, 0.25, 0.125, 1], [-1, 0, 1, 2]]})";

LoopPlan plan(const std::string& model_block) { return plan_of(model_block, kDeclarations); }

// Loop nodes anywhere in the lowered model.
int loop_nodes(const LoweredProgram& lp) {
  std::vector<NodeP> roots;
  for (const Term& t : lp.terms) roots.push_back(t.value);
  int count = 0;
  for (NodeP n : ir::topological_order(roots)) count += n->op == Op::LoopSum || n->op == Op::LoopGen;
  return count;
}

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

BOOST_AUTO_TEST_CASE(a_scalar_overwritten_and_read) {
  expect_unrolled(R"(
  real s;
  for (n in 1:N) {
    s = y[n] * mu;
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

BOOST_AUTO_TEST_CASE(break_and_continue) {
  expect_unrolled("for (n in 1:N) { if (n > 2) break; target += y[n] * mu; }", "it contains break or continue");
  expect_unrolled("for (n in 1:N) { if (n == 2) continue; target += y[n] * mu; }", "it contains break or continue");
}

BOOST_AUTO_TEST_CASE(while_foreach_and_target) {
  expect_unrolled("for (n in 1:N) { int k = 0; while (k < n) k += 1; target += k * mu; }", "it contains a while loop");
  expect_unrolled("for (n in 1:N) { for (v in y) target += v * mu; }", "it contains a foreach loop");
  expect_unrolled("for (n in 1:N) { target += y[n] * mu; print(target()); }", "it reads target()");
}

// A nested loop is unrolled, so the loop around it is too.
BOOST_AUTO_TEST_CASE(nested_loops_with_a_carried_inner_loop) {
  expect_unrolled(R"(
  vector[T] x;
  for (i in 1:N) {
    x[1] = theta[i];
    for (t in 2:T) x[t] = mu * x[t - 1];
    target += sum(x);
  })",
                  "a nested loop is unrolled ('x' carries a value from one iteration to the next)");
  // Defining a row element by element inside the inner loop: for the inner loop
  // m[i, t] is not indexed by its own variable first, so both loops unroll.
  expect_unrolled(R"(
  matrix[N, T] m;
  for (i in 1:N)
    for (t in 1:T) m[i, t] = Y[i, t] * mu;
  target += sum(m);)",
                  "a nested loop is unrolled ('m' carries");
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
      "real acc = 0; for (n in 1:N) { acc += y[n]; target += acc * mu; }",
      "for (n in 1:N) { if (n > 2) break; target += y[n] * mu; }",
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
  BOOST_TEST(symbolic == 3);
  BOOST_TEST(unrolled == 5);
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

BOOST_AUTO_TEST_SUITE_END()
