// Lowering on its own: programs from text through driver::parse and
// driver::lower, with assertions on the LoweredProgram (data bound as constants
// or buffer slices, the parameters' layout, loops as IR loop nodes or unrolled,
// the records of `~` statements, Stan's proportional `~`, guides, plates,
// transformed data and data-only checks) and on the printed stages. Values of
// lowered nodes are computed with driver::evaluate (the JIT, without gradients).
#define BOOST_TEST_MODULE lowering
#include "tests/support/model_fixture.hpp"

#include "compiler/driver/pipeline.hpp"
#include "compiler/ir/ir.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "data/json_data.hpp"

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

using namespace latent;
using namespace latent::testing;
using ir::NodeP;
using ir::Op;
using Kind = ConstraintSpec::Kind;

namespace {

using Vec = std::vector<double>;

// The program is kept alive with its lowering (terms point at its source).
struct Lowered {
  std::shared_ptr<const ast::Program> program;
  LoweredProgram lp;
};

Lowered lower_text(const std::string& text, const std::string& json = "{}", LowerOptions options = {}) {
  Lowered out;
  out.program = driver::parse(std::make_shared<SourceFile>(SourceFile{"test.lat", text}));
  out.lp = driver::lower(*out.program, DataSet::from_json_string(json, "data.json"), options);
  return out;
}

bool has_op(NodeP root, Op op) {
  for (NodeP n : ir::topological_order({root}))
    if (n->op == op) return true;
  return false;
}

bool has_loop(NodeP root) { return has_op(root, Op::LoopSum) || has_op(root, Op::LoopGen); }

// Whether any Input of `buffer` below root satisfies pred.
bool has_input(NodeP root, int buffer, const std::function<bool(NodeP)>& pred = [](NodeP) { return true; }) {
  for (NodeP n : ir::topological_order({root}))
    if (n->op == Op::Input && n->a == buffer && pred(n)) return true;
  return false;
}

bool has_constant(NodeP root, double value) {
  for (NodeP n : ir::topological_order({root}))
    if (n->is_const() && std::fabs(n->value - value) <= 1e-12 * std::max(1.0, std::fabs(value))) return true;
  return false;
}

// The terms of statements whose source line contains `part`.
std::vector<const Term*> terms_of(const LoweredProgram& lp, const std::string& part) {
  std::vector<const Term*> out;
  for (const Term& t : lp.terms)
    if (contains(t.statement, part)) out.push_back(&t);
  return out;
}

// The density term of a statement: the one that is not an argument check (checks
// are effects, also when a loop sums them).
const Term* density_term(const LoweredProgram& lp, const std::string& part) {
  for (const Term* t : terms_of(lp, part))
    if (!t->value->is_effect) return t;
  BOOST_ERROR("no density term for a statement containing '" << part << "'");
  return nullptr;
}

const ParameterInfo* parameter(const LoweredProgram& lp, const std::string& name) {
  for (const ParameterInfo& p : lp.parameters)
    if (p.name == name) return &p;
  BOOST_ERROR("no parameter '" << name << "'");
  return nullptr;
}

// Values of lowered nodes at the unconstrained point theta.
Vec evaluate(const LoweredProgram& lp, const std::vector<NodeP>& nodes, const Vec& theta, EvalContext* ctx_out = nullptr) {
  EvalContext ctx;
  Vec params = theta.empty() ? Vec{0.0} : theta;
  Vec data = lp.data.empty() ? Vec{0.0} : lp.data;
  Vec out = driver::evaluate(*lp.graph, nodes, {params.data(), data.data()}, ctx);
  if (ctx_out) *ctx_out = ctx;
  return out;
}
double evaluate_one(const LoweredProgram& lp, NodeP node, const Vec& theta) {
  return evaluate(lp, std::vector<NodeP>{node}, theta).at(0);
}

const double kLogSqrt2Pi = 0.5 * std::log(2 * M_PI);
double inv_logit(double x) { return 1 / (1 + std::exp(-x)); }

}  // namespace

// ============================================================================================
// Data: scalars are constants of the code, containers slices of the data buffer
// ============================================================================================

BOOST_AUTO_TEST_CASE(data_scalars_become_constants_and_containers_the_data_buffer) {
  Lowered l = lower_text(R"(
data { int<lower=0> N; vector[N] y; real s; array[2] int k; }
parameters { vector[N] theta; real mu; }
model {
  theta ~ normal(mu, s);
  y ~ normal(theta, s);
}
)",
                         R"({"N": 3, "y": [0.5, 1.5, -0.2], "s": 2.5, "k": [4, 5]})");
  const LoweredProgram& lp = l.lp;
  // y then k; N and s are not in the buffer.
  BOOST_TEST(lp.data == (Vec{0.5, 1.5, -0.2, 4, 5}), boost::test_tools::per_element());
  // The size N is known when lowering: theta has 3 coordinates.
  BOOST_TEST(parameter(lp, "theta")->unconstrained_size == 3);
  BOOST_TEST(lp.num_unconstrained == 4);
  const Term* t = density_term(lp, "y ~ normal(theta, s)");
  BOOST_REQUIRE(t);
  BOOST_TEST(has_constant(t->value, 2.5), "the data scalar s is not a constant in the term");
  BOOST_TEST(!has_input(t->value, 1, [](NodeP n) { return n->is_scalar(); }), "a data scalar is read from the buffer");
  BOOST_TEST(has_input(t->value, 1, [](NodeP n) { return n->b == 0 && n->dims == std::vector<int64_t>{3}; }),
             "y is not read from the data buffer at offset 0");
  // The int array is an Int input of the buffer.
  BOOST_TEST(lp.data.size() == 5u);
}

// ============================================================================================
// Parameters: layout of the unconstrained vector, constraints, Jacobians
// ============================================================================================

BOOST_AUTO_TEST_CASE(parameters_unconstrained_layout_and_constraint_kinds) {
  Lowered l = lower_text(R"(
parameters {
  real mu;
  real<lower=0> sigma;
  vector<lower=-1, upper=1>[3] r;
  simplex[4] p;
  real<offset=1, multiplier=2> z;
  real<upper=5> u;
  matrix[2, 3] M;
  array[2] vector[3] a;
}
model { mu ~ normal(0, 1); }
)");
  const LoweredProgram& lp = l.lp;
  struct Expected {
    std::string name;
    int64_t offset, size;
    Kind kind;
    std::vector<int64_t> stan_dims;
  };
  std::vector<Expected> expected{
      {"mu", 0, 1, Kind::None, {}},          {"sigma", 1, 1, Kind::Lower, {}},
      {"r", 2, 3, Kind::LowerUpper, {3}},    {"p", 5, 3, Kind::Simplex, {4}},
      {"z", 8, 1, Kind::OffsetMultiplier, {}}, {"u", 9, 1, Kind::Upper, {}},
      {"M", 10, 6, Kind::None, {2, 3}},      {"a", 16, 6, Kind::None, {2, 3}},
  };
  BOOST_REQUIRE_EQUAL(lp.parameters.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) {
    const ParameterInfo& p = lp.parameters[k];
    BOOST_TEST_CONTEXT(expected[k].name) {
      BOOST_TEST(p.name == expected[k].name);
      BOOST_TEST(p.unconstrained_offset == expected[k].offset);
      BOOST_TEST(p.unconstrained_size == expected[k].size);
      BOOST_TEST((p.constraint.kind == expected[k].kind));
      BOOST_TEST(p.stan_dims == expected[k].stan_dims, boost::test_tools::per_element());
      BOOST_TEST(!p.plate);
    }
  }
  BOOST_TEST(lp.num_unconstrained == 22);
  BOOST_TEST(parameter(lp, "p")->simplex_length == 4);
  BOOST_TEST(parameter(lp, "M")->is_matrix);
  // IR dims: an array's index is the slowest axis.
  BOOST_TEST(parameter(lp, "a")->value->dims == (std::vector<int64_t>{3, 2}), boost::test_tools::per_element());

  // A log-Jacobian term for each constrained parameter, none for the others.
  std::set<std::string> with_jacobian;
  for (const Term& t : lp.terms)
    if (t.jacobian)
      for (const ParameterInfo& p : lp.parameters)
        if (contains(t.statement, "'" + p.name + "'")) with_jacobian.insert(p.name);
  BOOST_TEST(with_jacobian == (std::set<std::string>{"sigma", "r", "p", "z", "u"}), boost::test_tools::per_element());

  // The constrained values are the transforms of the unconstrained coordinates.
  Vec theta(22);
  for (size_t k = 0; k < theta.size(); ++k) theta[k] = 0.1 * static_cast<double>(k) - 0.7;
  BOOST_TEST(evaluate_one(lp, parameter(lp, "sigma")->value, theta) == std::exp(theta[1]), boost::test_tools::tolerance(1e-12));
  Vec r = evaluate(lp, std::vector<NodeP>{parameter(lp, "r")->value}, theta);
  for (int k = 0; k < 3; ++k)
    BOOST_TEST(r[k] == -1 + 2 * inv_logit(theta[2 + k]), boost::test_tools::tolerance(1e-12));
  BOOST_TEST(evaluate_one(lp, parameter(lp, "z")->value, theta) == 1 + 2 * theta[8], boost::test_tools::tolerance(1e-12));
  BOOST_TEST(evaluate_one(lp, parameter(lp, "u")->value, theta) == 5 - std::exp(theta[9]), boost::test_tools::tolerance(1e-12));
  Vec p = evaluate(lp, std::vector<NodeP>{parameter(lp, "p")->value}, theta);
  double total = 0;
  for (double x : p) {
    BOOST_TEST(x > 0);
    total += x;
  }
  BOOST_TEST(total == 1.0, boost::test_tools::tolerance(1e-12));
}

// ============================================================================================
// Loops: independent iterations become loop nodes, recursions are unrolled
// ============================================================================================

namespace {
const char* kRegressionData = R"({"N": 4, "y": [0.5, 1.5, -0.2, 2.0], "x": [1, 2, 3, 4]})";
}

BOOST_AUTO_TEST_CASE(a_loop_of_target_increments_becomes_a_loop_sum) {
  Lowered l = lower_text(R"(
data { int N; vector[N] y; vector[N] x; }
parameters { real mu; real<lower=0> sigma; }
model {
  for (n in 1:N) y[n] ~ normal(mu + x[n], sigma);
}
)",
                         kRegressionData);
  const Term* t = density_term(l.lp, "y[n] ~ normal");
  BOOST_REQUIRE(t);
  BOOST_TEST(ir::op_name(t->value->op) == std::string("loop_sum"));
  // Its bounds are the data constants 1 and N.
  BOOST_TEST(t->value->args[0]->is_const(1));
  BOOST_TEST(t->value->args[1]->is_const(4));
  // The same value as the sum written out (propto: without -log(sqrt(2 pi))).
  Vec theta{0.3, -0.4};
  double sigma = std::exp(theta[1]), want = 0;
  Vec y{0.5, 1.5, -0.2, 2.0}, x{1, 2, 3, 4};
  for (int n = 0; n < 4; ++n) {
    double z = (y[n] - theta[0] - x[n]) / sigma;
    want += -std::log(sigma) - 0.5 * z * z;
  }
  BOOST_TEST(evaluate_one(l.lp, t->value, theta) == want, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(element_wise_definitions_become_a_loop_gen_and_accumulators_a_loop_sum) {
  Lowered l = lower_text(R"(
data { int N; vector[N] y; vector[N] x; }
parameters { real mu; real tau; }
model {
  vector[N] z;
  real acc = 2;  // the loop adds to the value before it
  for (n in 1:N) {
    z[n] = mu + x[n] * tau;
    acc += x[n] * mu;
  }
  y ~ normal(z, 1);
  target += acc;
}
)",
                         kRegressionData);
  const Term* gen = density_term(l.lp, "y ~ normal(z, 1)");
  const Term* acc = density_term(l.lp, "target += acc");
  BOOST_REQUIRE(gen);
  BOOST_REQUIRE(acc);
  BOOST_TEST(has_op(gen->value, Op::LoopGen));
  BOOST_TEST(has_op(acc->value, Op::LoopSum));
  BOOST_TEST(!has_op(acc->value, Op::LoopGen));
  Vec theta{0.7, -0.3};
  BOOST_TEST(evaluate_one(l.lp, acc->value, theta) == 2 + (1 + 2 + 3 + 4) * 0.7, boost::test_tools::tolerance(1e-12));
  Vec y{0.5, 1.5, -0.2, 2.0}, x{1, 2, 3, 4};
  double want = 0;
  for (int n = 0; n < 4; ++n) want += -0.5 * std::pow(y[n] - (0.7 + x[n] * -0.3), 2);
  BOOST_TEST(evaluate_one(l.lp, gen->value, theta) == want, boost::test_tools::tolerance(1e-12));
}

// m[n, 2] = ...: each iteration defines part of row n; the rows are generated
// along the loop and transposed into the matrix.
BOOST_AUTO_TEST_CASE(a_matrix_defined_row_by_row) {
  Lowered l = lower_text(R"(
data { int N; vector[N] x; }
parameters { real mu; }
model {
  matrix[N, 2] m = rep_matrix(1, N, 2);
  for (n in 1:N) m[n, 2] = x[n] * mu;
  target += sum(m .* m);
}
)",
                         R"({"N": 3, "x": [1, 2, 3]})");
  const Term* t = density_term(l.lp, "target += sum(m .* m)");
  BOOST_REQUIRE(t);
  BOOST_TEST(has_op(t->value, Op::LoopGen));
  double mu = 0.5;
  BOOST_TEST(evaluate_one(l.lp, t->value, {mu}) == 3 + (1 + 4 + 9) * mu * mu, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(a_recursion_is_unrolled) {
  Lowered l = lower_text(R"(
data { int T; vector[T] y; }
parameters { real<lower=0, upper=1> phi; real mu; }
model {
  vector[T] x;
  x[1] = y[1];
  for (t in 2:T) x[t] = mu + phi * x[t - 1];
  y ~ normal(x, 1);
}
)",
                         R"({"T": 5, "y": [1.0, 0.4, -0.3, 0.8, 0.1]})");
  for (const Term& t : l.lp.terms) BOOST_TEST(!has_loop(t.value), "a loop node in the term of " << t.statement);
  const Term* t = density_term(l.lp, "y ~ normal(x, 1)");
  BOOST_REQUIRE(t);
  BOOST_TEST(has_op(t->value, Op::Pack), "the unrolled definitions of x should be a packed vector");
  Vec theta{0.4, 0.25};
  double phi = inv_logit(theta[0]), mu = theta[1];
  Vec y{1.0, 0.4, -0.3, 0.8, 0.1}, x(5);
  x[0] = y[0];
  for (int k = 1; k < 5; ++k) x[k] = mu + phi * x[k - 1];
  double want = 0;
  for (int k = 0; k < 5; ++k) want += -0.5 * (y[k] - x[k]) * (y[k] - x[k]);
  BOOST_TEST(evaluate_one(l.lp, t->value, theta) == want, boost::test_tools::tolerance(1e-12));
}

// ============================================================================================
// `~` statements: their records, and Stan's proportional form
// ============================================================================================

BOOST_AUTO_TEST_CASE(tilde_records_name_the_distribution_the_variable_and_where_it_ran) {
  Lowered l = lower_text(R"(
data { int N; vector[N] y; }
parameters { real mu; real<lower=0> sigma; vector[N] z; }
model {
  mu ~ normal(0, 1);
  y ~ normal(mu, sigma);
  for (n in 1:N) z[n] ~ normal(mu, 1);
  for (k in 1:2) sigma ~ exponential(1);
  if (N > 1) to_vector(z) ~ normal(0, 3);
  if (mu > 0) z ~ normal(0, 2);
}
)",
                         R"({"N": 3, "y": [0.5, 1.5, -0.2]})");
  const LoweredProgram& lp = l.lp;
  auto record = [&](const std::string& part) -> const TildeRecord* {
    const Term* t = density_term(lp, part);
    if (!t || !t->tilde) return nullptr;
    return &*t->tilde;
  };

  const TildeRecord* prior = record("mu ~ normal(0, 1)");
  BOOST_REQUIRE(prior);
  BOOST_TEST(prior->distribution->name == "normal");
  BOOST_TEST(prior->variable == "mu");
  BOOST_TEST(prior->block == "parameters");
  BOOST_TEST(prior->top_level);
  BOOST_REQUIRE_EQUAL(prior->params.size(), 2u);
  BOOST_TEST(prior->params[0].node->is_const(0));
  BOOST_TEST(prior->params[1].node->is_const(1));
  BOOST_TEST(prior->variate.node == parameter(lp, "mu")->value);

  const TildeRecord* likelihood = record("y ~ normal(mu, sigma)");
  BOOST_REQUIRE(likelihood);
  BOOST_TEST(likelihood->variable == "y");
  BOOST_TEST(likelihood->block == "data");
  BOOST_TEST(likelihood->top_level);
  BOOST_TEST((likelihood->variate.node->op == Op::Input && likelihood->variate.node->a == 1));

  // Inside a loop: a record, not top-level; an element is not a whole variable.
  const TildeRecord* element = record("z[n] ~ normal(mu, 1)");
  BOOST_REQUIRE(element);
  BOOST_TEST(!element->top_level);
  BOOST_TEST(element->variable == "");
  const TildeRecord* repeated = record("sigma ~ exponential(1)");
  BOOST_REQUIRE(repeated);
  BOOST_TEST(repeated->distribution->name == "exponential");
  BOOST_TEST(repeated->variable == "sigma");
  BOOST_TEST(!repeated->top_level, "a statement run twice by a loop is not top-level");

  // A condition known from the data is no condition: top-level, through to_vector.
  const TildeRecord* known = record("to_vector(z) ~ normal(0, 3)");
  BOOST_REQUIRE(known);
  BOOST_TEST(known->variable == "z");
  BOOST_TEST(known->top_level);

  // Under a condition on parameters the density counts only on one path: never a
  // top-level record (lowering keeps no record at all: the term is a select).
  const Term* conditional = density_term(lp, "z ~ normal(0, 2)");
  BOOST_REQUIRE(conditional);
  BOOST_TEST(ir::op_name(conditional->value->op) == std::string("select"));
  BOOST_TEST((!conditional->tilde || !conditional->tilde->top_level));
}

BOOST_AUTO_TEST_CASE(tilde_drops_constants_unless_keep_constants) {
  const char* program = R"(
data { real y; real c; }
parameters { real mu; }
model {
  y ~ normal(mu, 2);
  c ~ normal(0, 1);
  target += normal_lpdf(c | 0, 1);
  target += normal_lupdf(c | 0, 1);
}
)";
  const char* data = R"({"y": 0.75, "c": -1.25})";
  Vec theta{0.3};
  double z = (0.75 - 0.3) / 2;
  double full_c = -kLogSqrt2Pi - 0.5 * 1.25 * 1.25;

  Lowered propto = lower_text(program, data);
  // Only what depends on mu is left of `y ~`; `c ~` and normal_lupdf of data are
  // constants and dropped; normal_lpdf keeps every term.
  const Term* likelihood = density_term(propto.lp, "y ~ normal(mu, 2)");
  BOOST_REQUIRE(likelihood);
  BOOST_TEST(evaluate_one(propto.lp, likelihood->value, theta) == -0.5 * z * z, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(terms_of(propto.lp, "c ~ normal(0, 1)").empty());
  BOOST_TEST(terms_of(propto.lp, "normal_lupdf").empty());
  const Term* lpdf = density_term(propto.lp, "normal_lpdf(c | 0, 1)");
  BOOST_REQUIRE(lpdf);
  BOOST_TEST(evaluate_one(propto.lp, lpdf->value, theta) == full_c, boost::test_tools::tolerance(1e-12));

  LowerOptions keep;
  keep.keep_constants = true;
  Lowered full = lower_text(program, data, keep);
  likelihood = density_term(full.lp, "y ~ normal(mu, 2)");
  BOOST_REQUIRE(likelihood);
  BOOST_TEST(evaluate_one(full.lp, likelihood->value, theta) == -kLogSqrt2Pi - std::log(2.0) - 0.5 * z * z,
             boost::test_tools::tolerance(1e-12));
  const Term* constant = density_term(full.lp, "c ~ normal(0, 1)");
  BOOST_REQUIRE(constant);
  BOOST_TEST(evaluate_one(full.lp, constant->value, theta) == full_c, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(constant->tilde.has_value());
  // _lupdf is the user's explicit choice: dropped either way.
  BOOST_TEST(terms_of(full.lp, "normal_lupdf").empty());
}

// ============================================================================================
// Guides, networks and plates
// ============================================================================================

namespace {
const char* kGuided = R"(
data { int<plate> N; matrix[N, 2] x; vector[N] w; real c; array[3] real other; }
network { dense dec(1, 2); }
parameters { real mu; matrix[N, 1] z; }
model {
  mu ~ normal(0, 1);
  to_vector(z) ~ normal(mu, 1);
  x ~ normal(dec(z), 0.5);
}
guide {
  network { dense enc_mu(2, 1); dense enc_ls(2, 1); }
  z ~ normal(enc_mu(x), exp(enc_ls(x)));
}
)";
const char* kGuidedData = R"({"N": 4, "x": [[0.3, -1.2], [1.5, 0.4], [-0.7, 2.2], [0.1, 0.9]],
  "w": [1, 2, 3, 4], "c": 0.5, "other": [7, 8, 9]})";
}  // namespace

BOOST_AUTO_TEST_CASE(guide_draws_and_networks) {
  Lowered l = lower_text(kGuided, kGuidedData);
  const LoweredProgram& lp = l.lp;
  BOOST_TEST(lp.has_guide);
  BOOST_REQUIRE_EQUAL(lp.guide.size(), 1u);
  const GuideDraw& q = lp.guide[0];
  BOOST_TEST(q.parameter == "z");
  BOOST_TEST(q.distribution->name == "normal");
  BOOST_TEST(contains(q.location, "test.lat:12:"));
  BOOST_REQUIRE_EQUAL(q.params.size(), 2u);
  for (NodeP p : q.params) {
    BOOST_TEST(p->dims == parameter(lp, "z")->value->dims, boost::test_tools::per_element());
    BOOST_TEST(has_input(p, 4), "the guide's parameters are not computed by its network (buffer 4)");
    BOOST_TEST(!has_input(p, 0), "the guide reads the model's parameters");
  }
  // The networks: the model's in buffer 3, the guide's in buffer 4, packed in order.
  std::vector<std::string> names;
  for (const NetworkTensor& t : lp.network) names.push_back(t.name + "@" + std::to_string(t.buffer) + ":" + std::to_string(t.offset));
  BOOST_TEST(names == (std::vector<std::string>{"dec.weight@3:0", "dec.bias@3:2", "enc_mu.weight@4:0", "enc_mu.bias@4:2",
                                                "enc_ls.weight@4:3", "enc_ls.bias@4:5"}),
             boost::test_tools::per_element());
  BOOST_TEST(lp.network_size[0] == 4);
  BOOST_TEST(lp.network_size[1] == 6);
  // A program without a guide has none.
  Lowered plain = lower_text("parameters { real mu; } model { mu ~ normal(0, 1); }");
  BOOST_TEST(!plain.lp.has_guide);
  BOOST_TEST(plain.lp.guide.empty());
}

BOOST_AUTO_TEST_CASE(plate_fields_and_plate_parameters) {
  Lowered l = lower_text(kGuided, kGuidedData);
  const LoweredProgram& lp = l.lp;
  BOOST_TEST(lp.plate == "N");
  BOOST_TEST(lp.plate_size == 4);
  // x (8 values, column-major) then w then other; c is a constant.
  BOOST_TEST(lp.data == (Vec{0.3, 1.5, -0.7, 0.1, -1.2, 0.4, 2.2, 0.9, 1, 2, 3, 4, 7, 8, 9}),
             boost::test_tools::per_element());
  BOOST_REQUIRE_EQUAL(lp.plate_fields.size(), 2u);
  BOOST_TEST(lp.plate_fields[0].shape.name == "x");
  BOOST_TEST(lp.plate_fields[0].offset == 0);
  BOOST_TEST(lp.plate_fields[0].shape.dims == (std::vector<int64_t>{4, 2}), boost::test_tools::per_element());
  BOOST_TEST(lp.plate_fields[1].shape.name == "w");
  BOOST_TEST(lp.plate_fields[1].offset == 8);
  BOOST_TEST(parameter(lp, "z")->plate);
  BOOST_TEST(!parameter(lp, "mu")->plate);
}

// ============================================================================================
// Transformed data is computed once; checks on data alone run once
// ============================================================================================

BOOST_AUTO_TEST_CASE(transformed_data_is_computed_once_into_the_data_buffer) {
  Lowered l = lower_text(R"(
data { int N; vector[N] y; }
transformed data {
  real m = mean(y);
  vector[N] y2 = y .* y;
  int K = N * 2;
}
parameters { real mu; vector[K] w; }
model {
  target += m * mu + sum(y2) * mu;
  w ~ normal(0, 1);
}
)",
                         R"({"N": 3, "y": [0.5, 1.5, -0.2]})");
  const LoweredProgram& lp = l.lp;
  // y, then y2's values; m and K are constants.
  BOOST_TEST(lp.data == (Vec{0.5, 1.5, -0.2, 0.25, 2.25, 0.04}), boost::test_tools::tolerance(1e-15) << boost::test_tools::per_element());
  BOOST_TEST(parameter(lp, "w")->unconstrained_size == 6);
  const Term* t = density_term(lp, "target += m * mu");
  BOOST_REQUIRE(t);
  BOOST_TEST(has_constant(t->value, 0.6), "mean(y) is not a constant of the term");
  BOOST_TEST(has_input(t->value, 1, [](NodeP n) { return n->b == 3; }), "y2 is not read from the data buffer");
  BOOST_TEST(!has_input(t->value, 1, [](NodeP n) { return n->b == 0; }), "y is read again: transformed data recomputed");
  // A failing check in transformed data stops lowering, with its message.
  std::string e = error_of([] {
    lower_text("data { real a; } transformed data { real b = a; if (b > 1) reject(\"b is too large: \", b); }",
               R"({"a": 3})");
  });
  BOOST_TEST(contains(e, "b is too large"), e);
}

BOOST_AUTO_TEST_CASE(checks_on_data_alone_go_to_data_checks) {
  const char* program = R"(
data { int N; vector[N] y; vector[N] s; }
parameters { real mu; real sigma; }
model {
  y ~ normal(mu, s);
  target += normal_lpdf(y | mu, sigma);
}
)";
  Lowered l = lower_text(program, R"({"N": 2, "y": [0.5, 1.5], "s": [1, -2]})");
  const LoweredProgram& lp = l.lp;
  BOOST_TEST(!lp.data_checks.empty());
  for (NodeP c : lp.data_checks) {
    BOOST_TEST(c->is_effect);
    BOOST_TEST(!c->reads_unknowns);
  }
  // The check on sigma (a parameter) stays with the terms.
  bool parameter_check = false;
  for (const Term& t : lp.terms)
    if (t.value->op == Op::Check) {
      BOOST_TEST(t.value->reads_unknowns, "a data-only check left among the terms: " << t.statement);
      parameter_check |= contains(t.statement, "sigma");
    }
  BOOST_TEST(parameter_check);
  // Run once, the data checks report the negative scale in s.
  EvalContext ctx;
  evaluate(lp, lp.data_checks, {0.1, 0.2}, &ctx);
  BOOST_TEST(ctx.failed);
  BOOST_TEST(contains(lp.graph->message(static_cast<int>(ctx.message)).text, "scale"));
}

// ============================================================================================
// Stage texts
// ============================================================================================

BOOST_AUTO_TEST_CASE(ast_and_lowered_texts_show_the_program) {
  Lowered l = lower_text(R"(
data { int N; vector[N] y; }
parameters { real mu; real<lower=0> sigma; }
model {
  for (n in 1:N) y[n] ~ normal(mu, sigma);
}
)",
                         R"({"N": 3, "y": [0.5, 1.5, -0.2]})");
  std::string ast = driver::ast_text(*l.program);
  for (const char* piece : {"data {", "vector[N] y;", "parameters {", "real<lower=0> sigma;", "model {", "for (n in 1:N)",
                            "~ normal(mu, sigma);"})
    BOOST_TEST(contains(ast, piece), "'" << piece << "' not in the AST text:\n" << ast);

  std::string lowered = driver::lowered_text(l.lp);
  for (const char* piece : {"; data buffer: 3 values", "; parameters (unconstrained vector of 2):",
                            "mu : real  at [0, 1)", "sigma : real lower=0 at [1, 2)", "input data+0", "input params+1",
                            "loop_sum", "loopvar", "log-Jacobian test.lat:3:", "term test.lat:5:",
                            "y[n] ~ normal(mu, sigma);"})
    BOOST_TEST(contains(lowered, piece), "'" << piece << "' not in the lowered text:\n" << lowered);

  Lowered guided = lower_text(kGuided, kGuidedData);
  std::string text = driver::lowered_text(guided.lp);
  for (const char* piece : {"; plate 'N' of 4 rows", "one per datum", "network enc_mu.weight : buffer 4", "guide test.lat:12:",
                            "z ~ normal: location"})
    BOOST_TEST(contains(text, piece), "'" << piece << "' not in the lowered text:\n" << text);
}

// ============================================================================================
// Compiler bugs this suite found, fixed since: their regression tests
// ============================================================================================

// TildeRecord::block is "where that variable is declared": a transformed
// parameter was recorded as "local" (declaring_block lowers its declarations as
// local variables).
BOOST_AUTO_TEST_CASE(tilde_record_of_a_transformed_parameter_names_its_block) {
  Lowered l = lower_text(R"(
parameters { real mu; }
transformed parameters { real nu = 2 * mu; }
model { nu ~ normal(0, 1); }
)");
  const Term* t = density_term(l.lp, "nu ~ normal(0, 1)");
  BOOST_REQUIRE(t);
  BOOST_REQUIRE(t->tilde);
  BOOST_TEST(t->tilde->variable == "nu");
  BOOST_TEST(t->tilde->block == "transformed parameters");
}
