#include "runtime/model/bound_model.hpp"

#include "autodiff/reverse.hpp"
#include "codegen/codegen.hpp"
#include "codegen/jit.hpp"
#include "frontend/ast.hpp"
#include "runtime/data/check_data.hpp"
#include "codegen/evaluate.hpp"
#include "lower/lowerer.hpp"

#include <llvm/IR/Module.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>

namespace latent {

using ir::NodeP;

struct BoundModel::Compiled {
  std::vector<codegen::KernelFn> fns;
  std::vector<int64_t> workspace, out_size;
  std::string llvm_before, llvm_after;
};

std::string DensityDiagnosis::text() const {
  std::string s;
  if (!failed_check.empty()) s += failed_check + "\n";
  for (auto& t : non_finite_terms) s += t + "\n";
  if (!parameter_values.empty()) s += "  at " + parameter_values + "\n";
  return s;
}

namespace {

// A model with networks or a guide has no log density of its parameters alone.
const ast::Program& without_networks(const ast::Program& p) {
  if (p.find(ast::BlockKind::Network) || p.find(ast::BlockKind::Guide))
    throw UserError(p.source->path +
                    ": this model has a network or a guide block: fit it with '--method svi' (stochastic "
                    "variational inference), which learns the weights with the variational parameters\n");
  return p;
}

}  // namespace

BoundModel::BoundModel(std::shared_ptr<const ast::Program> program, const DataSet& data, Options options)
    : program_(std::move(program)),
      lowered_(lower_program(without_networks(*program_), data)),
      keep_llvm_text_(options.keep_llvm_text) {
  // Checks on data alone (e.g. a data argument outside a distribution's domain)
  // run once, now; they are compiled with the log density, in one module.
  EvalContext ctx;
  double status = 0;
  run(compiled(kDensityJacobian), 1, nullptr, &status, &ctx);
  if (ctx.failed) throw UserError(ctx.failure_text() + "\n");
}

BoundModel::~BoundModel() = default;

void BoundModel::run(const Compiled& c, size_t k, const double* theta, double* out, EvalContext* ctx) const {
  // Per-thread scratch space: generated code keeps intermediate tensors here.
  thread_local std::vector<double> workspace;
  size_t need = static_cast<size_t>(c.workspace[k]) + 8;
  if (workspace.size() < need) workspace.resize(need);
  EvalContext local;
  EvalContext* used = ctx ? ctx : &local;
  used->graph = lowered_.graph.get();
  const double* inputs[] = {theta, lowered_.data.data()};
  c.fns[k](inputs, out, workspace.data(), used);
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

// out[0] = log density, out[1] = log density without the Jacobian (the same IR
// node in both functions, hence the same value), out[2...] = gradient of out[0].
codegen::FunctionSpec density_spec(const LoweredProgram& p, bool jacobian, const std::string& name) {
  ir::Graph& g = *p.graph;
  NodeP f = p.log_density(jacobian);
  codegen::FunctionSpec spec{name, {{f, 0}, {p.log_density(false), 1}}, 2 + p.num_unconstrained};
  for (auto& part : ir::differentiate(g, f)) spec.outputs.push_back({part.adjoint, 2 + part.offset});
  return spec;
}

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

const BoundModel::Compiled& BoundModel::compiled(Kind which) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (functions_[which]) return *functions_[which];
  ir::Graph& g = *lowered_.graph;
  std::vector<codegen::FunctionSpec> specs;
  switch (which) {
    case kDensityJacobian:
      specs.push_back(density_spec(lowered_, true, "latent_log_density_jacobian"));
      specs.push_back({"latent_data_checks", {{g.add_all(lowered_.data_checks), 0}}, 1});
      break;
    case kDensity: specs.push_back(density_spec(lowered_, false, "latent_log_density")); break;
    case kOutputs: {
      codegen::FunctionSpec spec{"latent_outputs", {}, 0};
      for (auto* v : output_variables(lowered_)) {
        spec.outputs.push_back({v->value, spec.out_size});
        spec.out_size += v->value->size();
      }
      spec.outputs.push_back({g.add_all(lowered_.generated_checks), spec.out_size++});
      specs.push_back(spec);
      break;
    }
    case kTerms: {
      codegen::FunctionSpec spec{"latent_terms", {}, 0};
      for (auto& t : lowered_.terms) spec.outputs.push_back({t.value, spec.out_size++});
      specs.push_back(spec);
      break;
    }
    case kKinds: throw std::logic_error("BoundModel::compiled: not a function kind");
  }
  auto c = std::make_unique<Compiled>();
  codegen::ModuleBuilder mb = codegen::new_module(specs[0].name);
  auto emitted = codegen::emit_functions(g, specs, *mb.module);
  std::vector<std::string> names;
  for (auto& spec : specs) names.push_back(spec.name);
  // `latent ir` shows the optimised LLVM IR, which a cached object does not have.
  codegen::CompiledModule compiled =
      codegen::compile_module(std::move(mb), names, {.optimize = true, .use_cache = !keep_llvm_text_, .keep_text = keep_llvm_text_});
  c->llvm_before = std::move(compiled.text_before);
  c->llvm_after = std::move(compiled.text_after);
  for (void* f : compiled.functions) c->fns.push_back(reinterpret_cast<codegen::KernelFn>(f));
  for (size_t k = 0; k < specs.size(); ++k) {
    c->workspace.push_back(emitted[k].workspace_doubles);
    c->out_size.push_back(specs[k].out_size);
  }
  functions_[which] = std::move(c);
  return *functions_[which];
}

BoundModel::CustomFunction BoundModel::compile_custom(
    const std::function<std::vector<std::pair<NodeP, int64_t>>(const LoweredProgram&)>& build, int64_t out_size) const {
  std::lock_guard<std::mutex> lock(mutex_);
  codegen::FunctionSpec spec{"latent_custom", {}, out_size};
  for (auto& [node, offset] : build(lowered_)) spec.outputs.push_back({node, offset});
  codegen::ModuleBuilder mb = codegen::new_module(spec.name);
  auto emitted = codegen::emit_functions(*lowered_.graph, {spec}, *mb.module);
  CustomFunction f;
  f.fn = reinterpret_cast<codegen::KernelFn>(codegen::compile_module(std::move(mb), {spec.name}).functions[0]);
  f.workspace = emitted[0].workspace_doubles;
  f.out_size = out_size;
  f.graph = lowered_.graph.get();
  return f;
}

void BoundModel::CustomFunction::call(const std::vector<const double*>& inputs, double* out, EvalContext* ctx) const {
  thread_local std::vector<double> scratch;
  if (scratch.size() < static_cast<size_t>(workspace) + 8) scratch.resize(static_cast<size_t>(workspace) + 8);
  EvalContext local;
  EvalContext* used = ctx ? ctx : &local;
  used->graph = graph;
  fn(inputs.data(), out, scratch.data(), used);
}

void BoundModel::compile(bool jacobian) const { compiled(jacobian ? kDensityJacobian : kDensity); }

double BoundModel::log_density(const double* theta, double* grad, bool jacobian, EvalContext* ctx) const {
  // The Jacobian function also gives the value without the Jacobian (out[1]).
  bool with_jacobian_function = jacobian || !grad;
  const Compiled& c = compiled(with_jacobian_function ? kDensityJacobian : kDensity);
  thread_local std::vector<double> out;
  if (out.size() < static_cast<size_t>(c.out_size[0])) out.resize(static_cast<size_t>(c.out_size[0]));
  run(c, 0, theta, out.data(), ctx);
  if (grad) std::copy(out.begin() + 2, out.begin() + c.out_size[0], grad);
  return jacobian ? out[0] : out[1];
}

std::vector<double> BoundModel::constrained_outputs(const double* theta, EvalContext* ctx) const {
  const Compiled& c = compiled(kOutputs);
  std::vector<double> out(static_cast<size_t>(c.out_size[0]));
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
        ctx.graph = lowered_.graph.get();
        std::vector<const double*> inputs{theta.data(), lowered_.data.data()};
        out = codegen::evaluate_once(*lowered_.graph, {bound}, inputs, ctx);
      };
      values_of(c.lower, b.lower);
      values_of(c.upper, b.upper);
      values_of(c.offset, b.offset);
      values_of(c.multiplier, b.multiplier);
      u = latent::unconstrain(c, b, x, p.simplex_length);
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
  const Compiled& c = compiled(kTerms);
  std::vector<double> out(static_cast<size_t>(c.out_size[0]));
  run(c, 0, theta, out.data(), nullptr);  // its checks were reported above
  // The parameter values at the point (constrained), the first few of them.
  std::vector<double> values = constrained_outputs(theta);
  std::vector<std::string> names = output_names();
  std::ostringstream at;
  size_t shown = 0, count = 0;
  for (const ParameterInfo& p : lowered_.parameters) count += static_cast<size_t>(p.size());
  for (; shown < count && shown < 12; ++shown) at << (shown ? ", " : "") << names[shown] << " = " << values[shown];
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

std::string BoundModel::ir_text() const {
  return ir::print_graph(*lowered_.graph, {{"log_density", lowered_.log_density(true)}});
}

std::string BoundModel::gradient_ir_text() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ir::Graph& g = *lowered_.graph;
  std::vector<std::pair<std::string, NodeP>> roots;
  for (auto& part : ir::differentiate(g, lowered_.log_density(true)))
    roots.push_back({"gradient[" + std::to_string(part.offset) + "...]", part.adjoint});
  return ir::print_graph(g, roots);
}

std::string BoundModel::llvm_text(bool optimized) const {
  const Compiled& c = compiled(kDensityJacobian);
  return optimized ? c.llvm_after : c.llvm_before;
}

}  // namespace latent
