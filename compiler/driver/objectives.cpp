// The objective stage of the pipeline: what each method compiles from a lowered
// program, as named functions with their output layouts. The IR of each objective
// is built by its transform (compiler/transforms); this file only lays out outputs.
#include "compiler/driver/pipeline.hpp"

#include "compiler/frontend/ast_printer.hpp"
#include "compiler/lower/lowerer.hpp"

#include <sstream>

namespace latent::driver {

namespace {

// [log p with the Jacobian if asked, log p without it (the same node when there is
// no Jacobian term), gradient of the first]. The Jacobian function also runs the
// data checks, once, when a model is bound.
std::vector<Function> log_density(LoweredProgram& p, bool jacobian) {
  ir::Graph& g = *p.graph;
  ir::NodeP f = p.log_density(jacobian);
  Function density{jacobian ? "log_density" : "log_density_no_jacobian",
                   {{f, 0}, {p.log_density(false), 1}}, 2 + p.num_unconstrained, f, 2};
  if (!jacobian) return {density};
  Function checks{"data_checks", {{g.add_all(p.data_checks), 0}}, 1};
  checks.runs_once = true;  // when a model is bound
  return {density, checks};
}

// Every output variable's value (parameters, transformed parameters, generated
// quantities, in that order, each in storage order), then the generated quantities' checks.
std::vector<Function> outputs(LoweredProgram& p) {
  Function f{"outputs", {}, 0};
  auto add = [&](const VariableInfo& v) {
    f.outputs.push_back({v.value, f.out_size});
    f.out_size += v.value->size();
  };
  for (auto& v : p.parameters) add(v);
  for (auto& v : p.transformed_parameters) add(v);
  for (auto& v : p.generated_quantities) add(v);
  f.outputs.push_back({p.graph->add_all(p.generated_checks), f.out_size++});
  return {f};
}

std::vector<Function> terms(LoweredProgram& p) {
  Function f{"terms", {}, 0};
  for (const Term& t : p.terms) f.outputs.push_back({t.value, f.out_size++});
  return {f};
}

Objective variational(LoweredProgram& p, const Method& m) {
  ir::Graph& g = *p.graph;
  int64_t n = p.num_unconstrained;
  VariationalObjective o = m.iwae ? build_iwae(g, p.log_density(true), n, m.family, m.draws)
                                  : build_elbo(g, p.log_density(true), n, m.family, m.draws);
  Objective out;
  out.functions.push_back({m.iwae ? "iwae" : "elbo", {{o.value, 0}}, 1 + o.num_phi, o.value, 1});
  return out;
}

// Training: [ELBO (plus the data checks, 0 unless the batch has bad data), gradient].
// Evaluation: [ELBO] and, when the model has them, the per-datum log weights.
Objective stochastic_vi(LoweredProgram& p, const Method& m) {
  ir::Graph& g = *p.graph;
  Objective out;
  out.svi = build_svi_objective(p, m.svi);
  const SviObjective& o = *out.svi;
  ir::NodeP checks = g.add_all(p.data_checks);
  ir::NodeP checked_elbo = g.add(o.elbo, checks);
  if (!m.evaluation) {
    out.functions.push_back({"svi_elbo_grad", {{checked_elbo, 0}}, 1 + o.layout.num_phi, o.elbo, 1});
  } else {
    out.functions.push_back({"svi_elbo", {{checked_elbo, 0}}, 1});
    if (o.log_weights)
      out.functions.push_back({"svi_log_weights", {{g.add(o.log_weights, checks), 0}}, p.plate_size});
  }
  out.single_precision_products = m.svi.single_precision_products;
  return out;
}

Objective generation(LoweredProgram& p, const Method& m) {
  static const char* names[] = {"sample_prior", "sample_encoder", "sample_draw", "sample_decoder", "sample_quantities"};
  Objective out;
  out.generation = build_generation(p, m.step, m.draw_globals, p.source->path);
  Function f{names[static_cast<int>(m.step)], {}, out.generation->out_size};
  for (auto& [node, offset] : out.generation->outputs) f.outputs.push_back({node, offset});
  out.functions.push_back(f);
  return out;
}

}  // namespace

std::string Method::describe() const {
  switch (kind) {
    case Kind::LogDensity: return jacobian ? "log density (with the log-Jacobian)" : "log density (without the log-Jacobian)";
    case Kind::Outputs: return "outputs (parameters, transformed parameters, generated quantities)";
    case Kind::Terms: return "each statement's contribution to the log density";
    case Kind::Variational:
      return std::string(iwae ? "IWAE_" + std::to_string(draws) : "ELBO over " + std::to_string(draws) + " draw(s)") +
             " of the " + family_name(family) + " Gaussian";
    case Kind::Svi: return evaluation ? "SVI evaluation (ELBO, per-datum log weights)" : "SVI training objective (ELBO)";
    case Kind::Generate:
      return step == GenerationStep::Prior     ? "generation: draws from the priors"
             : step == GenerationStep::Encoder ? "generation: the guide's means"
             : step == GenerationStep::Draw    ? "generation: draws of the observed variables"
             : step == GenerationStep::Decoder ? "generation: the observed variables' means"
                                               : "generation: the generated quantities";
  }
  return "?";
}

Objective build(LoweredProgram& lowered, const Method& method) {
  Objective out;
  switch (method.kind) {
    case Method::Kind::LogDensity: out.functions = log_density(lowered, method.jacobian); break;
    case Method::Kind::Outputs: out.functions = outputs(lowered); break;
    case Method::Kind::Terms: out.functions = terms(lowered); break;
    case Method::Kind::Variational: out = variational(lowered, method); break;
    case Method::Kind::Svi: out = stochastic_vi(lowered, method); break;
    case Method::Kind::Generate: out = generation(lowered, method); break;
  }
  out.description = method.describe();
  return out;
}

// ---- stage texts -------------------------------------------------------------------------------

std::string ast_text(const ast::Program& program) { return ast::print_program(program); }

std::string lowered_text(const LoweredProgram& p) {
  std::ostringstream s;
  auto dims = [](const VariableInfo& v) {
    std::string d;
    for (size_t i = 0; i < v.stan_dims.size(); ++i) d += (i ? "," : "") + std::to_string(v.stan_dims[i]);
    return d.empty() ? "" : "[" + d + "]";
  };
  s << "; data buffer: " << p.data.size() << " values";
  if (!p.plate.empty()) s << "; plate '" << p.plate << "' of " << p.plate_size << " rows";
  s << "\n; parameters (unconstrained vector of " << p.num_unconstrained << "):\n";
  for (const ParameterInfo& v : p.parameters)
    s << ";   " << v.name << " : " << v.type.str() << dims(v) << " " << describe(v.constraint) << " at ["
      << v.unconstrained_offset << ", " << v.unconstrained_offset + v.unconstrained_size << ")"
      << (v.plate ? ", one per datum" : "") << "\n";
  for (const NetworkTensor& t : p.network)
    s << ";   network " << t.name << " : buffer " << t.buffer << " at " << t.offset << ", " << t.size() << " values\n";
  std::vector<std::pair<std::string, ir::NodeP>> roots;
  for (const ParameterInfo& v : p.parameters) roots.push_back({"parameter " + v.name, v.value});
  for (const VariableInfo& v : p.transformed_parameters) roots.push_back({"transformed parameter " + v.name, v.value});
  for (const Term& t : p.terms)
    roots.push_back({std::string(t.jacobian ? "log-Jacobian " : "term ") + t.location + "  " + t.statement, t.value});
  for (const GuideDraw& d : p.guide)
    for (size_t k = 0; k < d.params.size(); ++k)
      roots.push_back({"guide " + d.location + " " + d.parameter + " ~ " + d.distribution->name + ": " +
                           d.distribution->params.at(k).first, d.params[k]});
  for (const VariableInfo& v : p.generated_quantities) roots.push_back({"generated quantity " + v.name, v.value});
  for (size_t k = 0; k < p.data_checks.size(); ++k) roots.push_back({"data check " + std::to_string(k), p.data_checks[k]});
  s << ir::print_graph(*p.graph, roots);
  return s.str();
}

std::string functions_text(const LoweredProgram& lowered, const std::vector<Function>& functions) {
  std::string text;
  for (const Function& f : functions) {
    std::vector<std::pair<std::string, ir::NodeP>> roots;
    for (const codegen::OutputSpec& o : f.outputs) roots.push_back({f.name + "[" + std::to_string(o.offset) + "]", o.node});
    if (f.gradient_of)
      roots.push_back({"differentiated: " + f.name + "[" + std::to_string(f.gradient_offset) + "...] = d/d(input 0) of",
                       f.gradient_of});
    text += "; " + f.name + ": " + std::to_string(f.out_size) + " outputs\n" + ir::print_graph(*lowered.graph, roots);
  }
  return text;
}

}  // namespace latent::driver
