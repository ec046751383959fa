#include "runtime/model/bound_model.hpp"

#include "autodiff/reverse.hpp"
#include "codegen/codegen.hpp"
#include "codegen/jit.hpp"
#include "frontend/ast.hpp"
#include "runtime/data/check_data.hpp"
#include "runtime/output/csv.hpp"

#include <llvm/IR/Module.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

namespace latent {

using ir::NodeP;

struct BoundModel::Compiled {
  codegen::KernelFn fn = nullptr;
  int64_t workspace = 0;
  int64_t out_size = 0;
  std::string llvm_before, llvm_after;
};

std::string DensityDiagnosis::text() const {
  std::string s;
  if (!failed_check.empty()) s += failed_check + "\n";
  for (auto& t : non_finite_terms) s += t + "\n";
  if (!parameter_values.empty()) s += "  at " + parameter_values + "\n";
  return s;
}

BoundModel::BoundModel(std::shared_ptr<const ast::Program> program, const DataSet& data)
    : program_(std::move(program)), lowered_(lower_program(*program_, data)) {}

BoundModel::~BoundModel() = default;

namespace {

// Everything written by the outputs function, in CmdStan column order.
std::vector<const VariableInfo*> output_variables(const LoweredProgram& p) {
  std::vector<const VariableInfo*> vars;
  for (auto& v : p.parameters) vars.push_back(&v);
  for (auto& v : p.transformed_parameters) vars.push_back(&v);
  for (auto& v : p.generated_quantities) vars.push_back(&v);
  return vars;
}

codegen::FunctionSpec density_spec(ir::Graph& g, NodeP f, int64_t n, const std::string& name) {
  codegen::FunctionSpec spec{name, {{f, 0}}, 1 + n};
  for (auto& part : ir::differentiate(g, f)) spec.outputs.push_back({part.adjoint, 1 + part.offset});
  return spec;
}

}  // namespace

const BoundModel::Compiled& BoundModel::compiled(int which) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (functions_[which]) return *functions_[which];
  ir::Graph& g = *lowered_.graph;
  codegen::FunctionSpec spec;
  switch (which) {
    case 0: spec = density_spec(g, lowered_.log_density(true), num_unconstrained(), "latent_log_density_jacobian"); break;
    case 1: spec = density_spec(g, lowered_.log_density(false), num_unconstrained(), "latent_log_density"); break;
    case 2: {
      spec.name = "latent_outputs";
      for (auto* v : output_variables(lowered_)) {
        spec.outputs.push_back({v->value, spec.out_size});
        spec.out_size += v->value->size();
      }
      spec.outputs.push_back({g.add_all(lowered_.generated_checks), spec.out_size});
      spec.out_size += 1;
      break;
    }
    case 3: {
      spec.name = "latent_terms";
      for (auto& t : lowered_.terms) spec.outputs.push_back({t.value, spec.out_size++});
      break;
    }
  }
  auto c = std::make_unique<Compiled>();
  auto T0 = std::chrono::steady_clock::now();
  codegen::ModuleBuilder mb = codegen::new_module(spec.name);
  auto emitted = codegen::emit_functions(g, {spec}, *mb.module);
  auto T1 = std::chrono::steady_clock::now();
  if (keep_llvm_text_) c->llvm_before = codegen::module_text(*mb.module);
  codegen::optimize_module(*mb.module);
  auto T2 = std::chrono::steady_clock::now();
  if (keep_llvm_text_) c->llvm_after = codegen::module_text(*mb.module);
  c->fn = reinterpret_cast<codegen::KernelFn>(codegen::jit_add_module(std::move(mb), {spec.name})[0]);
  auto T3 = std::chrono::steady_clock::now();
  if (getenv("LATENT_TIMING")) fprintf(stderr, "emit %.2f opt %.2f jit %.2f ms\n", std::chrono::duration<double, std::milli>(T1-T0).count(), std::chrono::duration<double, std::milli>(T2-T1).count(), std::chrono::duration<double, std::milli>(T3-T2).count());
  c->workspace = emitted[0].workspace_doubles;
  c->out_size = spec.out_size;
  functions_[which] = std::move(c);
  return *functions_[which];
}

void BoundModel::compile(bool jacobian) const { compiled(jacobian ? 0 : 1); }

double BoundModel::log_density(const double* theta, double* grad, bool jacobian, EvalContext* ctx) const {
  const Compiled& c = compiled(jacobian ? 0 : 1);
  // Per-thread scratch space: generated code keeps intermediate tensors here.
  thread_local std::vector<double> workspace, out;
  if (workspace.size() < static_cast<size_t>(c.workspace) + 8) workspace.resize(static_cast<size_t>(c.workspace) + 8);
  if (out.size() < static_cast<size_t>(c.out_size)) out.resize(static_cast<size_t>(c.out_size));
  EvalContext local;
  local.graph = lowered_.graph.get();
  EvalContext* used = ctx ? ctx : &local;
  used->graph = lowered_.graph.get();
  const double* inputs[] = {theta, lowered_.data.data()};
  c.fn(inputs, out.data(), workspace.data(), used);
  if (grad) std::copy(out.begin() + 1, out.begin() + c.out_size, grad);
  return out[0];
}

std::vector<double> BoundModel::constrained_outputs(const double* theta, EvalContext* ctx) const {
  const Compiled& c = compiled(2);
  std::vector<double> workspace(static_cast<size_t>(c.workspace) + 8), out(static_cast<size_t>(c.out_size));
  EvalContext local;
  EvalContext* used = ctx ? ctx : &local;
  used->graph = lowered_.graph.get();
  const double* inputs[] = {theta, lowered_.data.data()};
  c.fn(inputs, out.data(), workspace.data(), used);
  out.pop_back();  // the status slot of generated-quantity checks
  return out;
}

std::vector<std::string> BoundModel::output_names() const {
  std::vector<std::string> names;
  for (auto* v : output_variables(lowered_)) {
    auto cols = cmdstan_column_names(v->name, v->stan_dims, v->is_matrix);
    names.insert(names.end(), cols.begin(), cols.end());
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
      u = latent::unconstrain(p.constraint, x, p.simplex_length);
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
  const Compiled& c = compiled(3);
  std::vector<double> workspace(static_cast<size_t>(c.workspace) + 8), out(static_cast<size_t>(c.out_size));
  EvalContext quiet;
  quiet.graph = lowered_.graph.get();
  const double* inputs[] = {theta, lowered_.data.data()};
  c.fn(inputs, out.data(), workspace.data(), &quiet);
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
    s << t.location << ": " << t.statement << "  evaluates to " << out[k];
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
  const Compiled& c = compiled(0);
  return optimized ? c.llvm_after : c.llvm_before;
}

}  // namespace latent
