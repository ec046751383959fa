#include "runtime/model/bound_model.hpp"

#include "compiler/frontend/ast.hpp"
#include "compiler/lower/lowerer.hpp"
#include "data/check_data.hpp"

#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace latent {

using ir::NodeP;

std::string DensityDiagnosis::text() const {
  std::string s;
  if (!failed_check.empty()) s += failed_check + "\n";
  for (auto& t : non_finite_terms) s += t + "\n";
  if (!parameter_values.empty()) s += "  at " + parameter_values + "\n";
  return s;
}

const ast::Program& without_networks(const ast::Program& p) {
  if (p.find(ast::BlockKind::Network) || p.find(ast::BlockKind::Guide))
    throw UserError(p.source->path +
                    ": this model has a network or a guide block: fit it with '--method svi' (stochastic "
                    "variational inference), which learns the weights with the variational parameters\n");
  return p;
}

BoundModel::BoundModel(std::shared_ptr<const ast::Program> program, const DataSet& data, Options options)
    : program_(std::move(program)),
      options_(options),
      lowered_(driver::lower(without_networks(*program_), data,
                             {.keep_constants = options.keep_constants,
                              .print_stream = options.print_stream,
                              .seed = options.seed})) {
  // Checks on data alone (e.g. a data argument outside a distribution's domain)
  // run once, now; they are compiled with the log density, in one module.
  EvalContext ctx;
  double status = 0;
  run(compiled(kDensityJacobian), 1, nullptr, &status, &ctx);
  if (ctx.failed) throw UserError(ctx.failure_text() + "\n");
}

BoundModel::~BoundModel() = default;

void BoundModel::run(const driver::Compiled& c, size_t k, const double* theta, double* out, EvalContext* ctx) const {
  CompiledFunction f{c.functions[k], c.workspace[k], c.objective.functions[k].out_size, &lowered_.graph->messages(),
                     options_.print_stream};
  const double* inputs[2] = {theta, lowered_.data.data()};
  f.call(inputs, out, ctx);
}

namespace {

// Everything written by the outputs function, in CmdStan column order.
std::vector<const VariableInfo*> output_variables(const LoweredProgram& p) {
  std::vector<const VariableInfo*> vars;
  for (auto& v : p.parameters) vars.push_back(&v);
  for (auto& v : p.transformed_parameters) vars.push_back(&v);
  for (auto& v : p.generated_quantities) vars.push_back(&v);
  return vars;
}

}  // namespace

namespace {

// Storage positions of a variable's elements in CmdStan's column order: every
// index column-major (the first index fastest), arrays included. Calls
// visit(storage offset, 1-based Stan indexes).
void for_each_in_cmdstan_order(const VariableInfo& v,
                               const std::function<void(int64_t, const std::vector<int64_t>&)>& visit) {
  const std::vector<int64_t>& S = v.stan_dims;
  size_t k = static_cast<size_t>(v.type.array_dims), rank = S.size();
  std::vector<int64_t> ir_dims = Lowerer::ir_dims_of(v.type, S), stride(rank);
  int64_t s = 1;
  for (size_t d = 0; d < rank; ++d) {
    stride[d] = s;
    s *= ir_dims[d];
  }
  if (s == 0) return;
  auto ir_axis = [&](size_t p) { return p < k ? rank - 1 - p : p - k; };
  std::vector<int64_t> idx(rank, 0), one_based(rank);
  while (true) {
    int64_t offset = 0;
    for (size_t p = 0; p < rank; ++p) {
      offset += idx[p] * stride[ir_axis(p)];
      one_based[p] = idx[p] + 1;
    }
    visit(offset, one_based);
    size_t p = 0;
    while (p < rank && ++idx[p] == S[p]) idx[p++] = 0;
    if (p == rank) break;
  }
}

}  // namespace

const driver::Compiled& BoundModel::compiled(Kind which) const {
  if (const driver::Compiled* ready = ready_[which].load(std::memory_order_acquire)) return *ready;
  std::lock_guard<std::mutex> lock(mutex_);
  if (!functions_[which]) {
    static const driver::Method methods[kKinds] = {driver::Method::log_density(true),
                                                   driver::Method::log_density(false), driver::Method::outputs(),
                                                   driver::Method::terms()};
    functions_[which] = std::make_unique<driver::Compiled>(driver::compile(lowered_, methods[which]));
    ready_[which].store(functions_[which].get(), std::memory_order_release);
  }
  return *functions_[which];
}

BoundModel::CompiledFunction BoundModel::compile(const driver::Method& method) const {
  std::lock_guard<std::mutex> lock(mutex_);
  driver::Compiled c = driver::compile(lowered_, method);
  return {c.functions.at(0), c.workspace.at(0), c.objective.functions.at(0).out_size, &lowered_.graph->messages(),
          options_.print_stream};
}

void BoundModel::CompiledFunction::call(const std::vector<const double*>& inputs, double* out, EvalContext* ctx) const {
  call(inputs.data(), out, ctx);
}

void BoundModel::CompiledFunction::call(const double* const* inputs, double* out, EvalContext* ctx) const {
  // Per-thread scratch space: generated code keeps intermediate tensors here.
  thread_local std::vector<double> scratch;
  if (scratch.size() < static_cast<size_t>(workspace) + 8) scratch.resize(static_cast<size_t>(workspace) + 8);
  EvalContext local;
  EvalContext* used = ctx ? ctx : &local;
  used->messages = messages;
  if (!used->print_stream) used->print_stream = print_stream;
  fn(inputs, out, scratch.data(), used);
}

void BoundModel::compile(bool jacobian) const { compiled(jacobian ? kDensityJacobian : kDensity); }

bool BoundModel::compiled_from_cache(bool jacobian) const {
  return compiled(jacobian ? kDensityJacobian : kDensity).from_cache;
}

double BoundModel::log_density(const double* theta, double* grad, bool jacobian, EvalContext* ctx) const {
  // The Jacobian function also gives the value without the Jacobian (out[1]).
  bool with_jacobian_function = jacobian || !grad;
  const driver::Compiled& c = compiled(with_jacobian_function ? kDensityJacobian : kDensity);
  const int64_t out_size = c.objective.functions[0].out_size;
  thread_local std::vector<double> out;
  if (out.size() < static_cast<size_t>(out_size)) out.resize(static_cast<size_t>(out_size));
  run(c, 0, theta, out.data(), ctx);
  if (grad) std::copy(out.begin() + 2, out.begin() + out_size, grad);
  return jacobian ? out[0] : out[1];
}

std::vector<double> BoundModel::constrained_outputs(const double* theta, EvalContext* ctx) const {
  const driver::Compiled& c = compiled(kOutputs);
  std::vector<double> out(static_cast<size_t>(c.objective.functions[0].out_size));
  run(c, 0, theta, out.data(), ctx);
  std::vector<double> ordered;
  ordered.reserve(out.size());
  int64_t base = 0;
  for (auto* v : output_variables(lowered_)) {
    for_each_in_cmdstan_order(*v, [&](int64_t offset, const std::vector<int64_t>&) {
      ordered.push_back(out[static_cast<size_t>(base + offset)]);
    });
    base += v->value->size();
  }
  return ordered;
}

std::vector<std::string> BoundModel::output_names() const {
  std::vector<std::string> names;
  for (auto* v : output_variables(lowered_)) {
    for_each_in_cmdstan_order(*v, [&](int64_t, const std::vector<int64_t>& idx) {
      std::string n = v->name;
      for (int64_t i : idx) n += "." + std::to_string(i);
      names.push_back(n);
    });
  }
  return names;
}

std::vector<double> BoundModel::random_point(std::mt19937_64& rng) const {
  std::uniform_real_distribution<double> u(-2, 2);
  std::vector<double> theta(static_cast<size_t>(num_unconstrained()));
  for (auto& x : theta) x = u(rng);
  return theta;
}

std::vector<double> BoundModel::unconstrain(const DataSet& values, std::mt19937_64& rng) const {
  std::vector<double> theta = random_point(rng);
  for (const ParameterInfo& p : lowered_.parameters) {
    if (!values.find(p.name)) continue;
    DeclaredShape shape;
    shape.name = p.name;
    shape.dims = p.stan_dims;
    shape.is_matrix_last2 = p.is_matrix;
    std::vector<double> x = check_and_flatten(values, shape);
    std::vector<double> u;
    try {
      // Bounds (data, or earlier parameters at the values set so far) evaluated on the host.
      const ConstraintSpec& c = p.constraint;
      BoundValues b;
      auto values_of = [&](ir::NodeP bound, std::vector<double>& out) {
        if (!bound) return;
        if (bound->is_const()) {
          out = {bound->value};
          return;
        }
        std::lock_guard<std::mutex> lock(mutex_);
        EvalContext ctx;
        std::vector<const double*> inputs{theta.data(), lowered_.data.data()};
        out = driver::evaluate(*lowered_.graph, {bound}, inputs, ctx);
      };
      values_of(c.lower, b.lower);
      values_of(c.upper, b.upper);
      values_of(c.offset, b.offset);
      values_of(c.multiplier, b.multiplier);
      u = latent::unconstrain(c, b, x, p.simplex_length, p.stan_dims.empty());
    } catch (const std::invalid_argument& e) {
      throw UserError(values.source() + ": parameter '" + p.name + "': " + e.what() + "\n");
    }
    std::copy(u.begin(), u.end(), theta.begin() + p.unconstrained_offset);
  }
  return theta;
}

DensityDiagnosis BoundModel::diagnose(const double* theta, bool jacobian) const {
  DensityDiagnosis d;
  EvalContext ctx;
  log_density(theta, nullptr, jacobian, &ctx);
  if (ctx.failed) d.failed_check = ctx.failure_text();
  const driver::Compiled& c = compiled(kTerms);
  std::vector<double> out(static_cast<size_t>(c.objective.functions[0].out_size));
  run(c, 0, theta, out.data(), nullptr);  // its checks were reported above
  // The parameter values at the point (constrained), the first few of them.
  std::vector<double> values = constrained_outputs(theta);
  std::vector<std::string> names = output_names();
  std::ostringstream at;
  size_t shown = 0, count = 0;
  for (const ParameterInfo& p : lowered_.parameters) count += static_cast<size_t>(p.size());
  for (; shown < count && shown < 12; ++shown) {
    at << (shown ? ", " : "") << names[shown] << " = ";
    if (std::isnan(values[shown]))
      at << "NaN";  // not the C library's "-nan" or "nan", which depends on the sign bit and the platform
    else
      at << values[shown];
  }
  if (shown < count) at << ", ...";
  d.parameter_values = at.str();
  for (size_t k = 0; k < lowered_.terms.size(); ++k) {
    const Term& t = lowered_.terms[k];
    if (std::isfinite(out[k]) || (t.jacobian && !jacobian)) continue;
    if (t.value->op == ir::Op::Check) continue;  // reported above
    std::ostringstream s;
    s << t.location << ": " << t.statement << "  evaluates to " << (std::isnan(out[k]) ? "NaN" : std::to_string(out[k]));
    d.non_finite_terms.push_back(s.str());
  }
  return d;
}

}  // namespace latent
