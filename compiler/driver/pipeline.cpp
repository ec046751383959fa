#include "compiler/driver/pipeline.hpp"

#include "compiler/autodiff/reverse.hpp"
#include "compiler/codegen/jit.hpp"
#include "compiler/driver/stage_log.hpp"
#include "compiler/frontend/frontend.hpp"
#include "data/json_data.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <mutex>

namespace latent::driver {

namespace {

// Parsing (the ANTLR runtime shares its DFA caches between parsers) and checking
// run one at a time; they take milliseconds.
std::mutex& frontend_mutex() {
  static std::mutex m;
  return m;
}

// Each function with its gradient: ir::differentiate's parts become outputs.
std::vector<codegen::FunctionSpec> differentiate(ir::Graph& g, const Objective& objective, const std::string& prefix) {
  std::vector<codegen::FunctionSpec> specs;
  for (const Function& f : objective.functions) {
    codegen::FunctionSpec spec{prefix + f.name, f.outputs, f.out_size, objective.single_precision_products,
                               f.runs_once};
    if (f.gradient_of)
      for (const ir::GradientPart& part : ir::differentiate(g, f.gradient_of))
        spec.outputs.push_back({part.adjoint, f.gradient_offset + part.offset});
    specs.push_back(std::move(spec));
  }
  return specs;
}

std::string specs_text(const ir::Graph& g, const std::vector<codegen::FunctionSpec>& specs) {
  std::string text;
  for (const codegen::FunctionSpec& s : specs) {
    std::vector<std::pair<std::string, ir::NodeP>> roots;
    for (const codegen::OutputSpec& o : s.outputs) roots.push_back({s.name + "[" + std::to_string(o.offset) + "]", o.node});
    text += "; " + s.name + ": " + std::to_string(s.out_size) + " outputs\n" + ir::print_graph(g, roots);
  }
  return text;
}

struct Emitted {
  codegen::ModuleBuilder module;
  std::vector<codegen::EmittedFunction> functions;
};

Emitted emit_llvm(const ir::Graph& g, const std::vector<codegen::FunctionSpec>& specs, const std::string& name) {
  Emitted e{codegen::new_module(name), {}};
  e.functions = codegen::emit_functions(g, specs, *e.module.module);
  return e;
}

}  // namespace

// ---- the stages ------------------------------------------------------------------------------

std::shared_ptr<const ast::Program> parse(std::shared_ptr<const SourceFile> source) {
  codegen::start_jit();
  StageLog log;
  return log.run(Stage::Ast, [&] {
    std::lock_guard<std::mutex> lock(frontend_mutex());
    std::shared_ptr<ast::Program> program = parse_program(std::move(source));
    check_program(*program);
    return std::shared_ptr<const ast::Program>(std::move(program));
  }, [](const auto& program) { return ast_text(*program); });
}

std::shared_ptr<const ast::Program> parse_file(const std::string& path) { return parse(read_source_file(path)); }

LoweredProgram lower(const ast::Program& program, const DataSet& data, LowerOptions options) {
  if (!options.evaluate) options.evaluate = evaluate;
  StageLog log;
  return log.run(Stage::Lowered, [&] { return lower_program(program, data, options); },
                 [](const LoweredProgram& lowered) { return lowered_text(lowered); });
}

// The back half of the pipeline, top to bottom: objective, gradient, LLVM IR,
// optimised machine code in the process's JIT.
Compiled compile(LoweredProgram& lowered, const Method& method, const StageOptions& options) {
  StageLog log(options);
  ir::Graph& g = *lowered.graph;
  Compiled out;
  out.objective = log.run(Stage::Objective, [&] { return build(lowered, method); },
                          [&](const Objective& o) { return functions_text(lowered, o.functions); });
  auto specs = log.run(Stage::Gradient, [&] { return differentiate(g, out.objective, "latent_"); },
                       [&](const auto& s) { return specs_text(g, s); });
  Emitted emitted = log.run(Stage::Llvm, [&] { return emit_llvm(g, specs, specs.at(0).name); },
                            [](const Emitted& e) { return codegen::module_text(*e.module.module); });
  // Optimised (unless the object is cached), compiled to an object and linked.
  bool show_optimized = log.wanted(Stage::LlvmOptimized);
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  codegen::CompiledModule code = log.run(Stage::LlvmOptimized, [&] {
    return codegen::compile_module(std::move(emitted.module), names,
                                   {.optimize = true, .use_cache = options.use_cache && !show_optimized,
                                    .keep_text = show_optimized});
  }, [](const codegen::CompiledModule& c) { return c.text_after; });
  for (void* f : code.functions) out.functions.push_back(reinterpret_cast<codegen::KernelFn>(f));
  for (const auto& e : emitted.functions) out.workspace.push_back(e.workspace_doubles);
  out.from_cache = code.from_cache;
  out.stage_text = log.captured();
  return out;
}

ObjectCode compile_object(LoweredProgram& lowered, const Method& method, const std::string& name) {
  StageLog log;
  ir::Graph& g = *lowered.graph;
  ObjectCode out;
  out.objective = log.run(Stage::Objective, [&] { return build(lowered, method); },
                          [&](const Objective& o) { return functions_text(lowered, o.functions); });
  auto specs = log.run(Stage::Gradient, [&] { return differentiate(g, out.objective, name + "_"); },
                       [&](const auto& s) { return specs_text(g, s); });
  Emitted emitted = log.run(Stage::Llvm, [&] {
    Emitted e = emit_llvm(g, specs, name);
    // The data buffer, as a constant array in the object.
    llvm::LLVMContext& context = *e.module.context;
    auto* type = llvm::ArrayType::get(llvm::Type::getDoubleTy(context), lowered.data.size());
    auto* init = llvm::ConstantDataArray::get(context, llvm::ArrayRef<double>(lowered.data));
    new llvm::GlobalVariable(*e.module.module, type, true, llvm::GlobalValue::ExternalLinkage, init, name + "_data");
    return e;
  }, [](const Emitted& e) { return codegen::module_text(*e.module.module); });
  out.object = log.run(Stage::LlvmOptimized, [&] {
    codegen::optimize_module(*emitted.module.module);
    return codegen::compile_to_object(*emitted.module.module);
  }, [&](const std::string&) { return codegen::module_text(*emitted.module.module); });
  for (const auto& e : emitted.functions) out.workspace.push_back(e.workspace_doubles);
  return out;
}

std::vector<double> evaluate(const ir::Graph& graph, const std::vector<ir::NodeP>& nodes,
                             const std::vector<const double*>& inputs, EvalContext& ctx) {
  codegen::FunctionSpec spec{"latent_evaluate", {}, 0};
  for (ir::NodeP n : nodes) {
    spec.outputs.push_back({n, spec.out_size});
    spec.out_size += n->size();
  }
  if (spec.out_size == 0) return {};
  Emitted e = emit_llvm(graph, {spec}, "evaluate");
  // Run once: not worth the optimisation passes.
  auto fns = codegen::compile_module(std::move(e.module), {spec.name}, {.optimize = false}).functions;
  std::vector<double> out(static_cast<size_t>(spec.out_size));
  std::vector<double> workspace(static_cast<size_t>(e.functions[0].workspace_doubles) + 1);
  ctx.messages = &graph.messages();
  reinterpret_cast<codegen::KernelFn>(fns[0])(inputs.data(), out.data(), workspace.data(), &ctx);
  return out;
}

}  // namespace latent::driver
