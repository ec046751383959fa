#include "codegen/evaluate.hpp"

#include "codegen/jit.hpp"

#include <llvm/IR/Module.h>

namespace latent::codegen {

std::vector<double> evaluate_once(const ir::Graph& graph, const std::vector<ir::NodeP>& nodes,
                                  const std::vector<const double*>& inputs, EvalContext& ctx) {
  FunctionSpec spec{"latent_evaluate", {}, 0};
  for (ir::NodeP n : nodes) {
    spec.outputs.push_back({n, spec.out_size});
    spec.out_size += n->size();
  }
  if (spec.out_size == 0) return {};
  ModuleBuilder mb = new_module("evaluate");
  // Run once: not worth the optimisation passes.
  auto emitted = emit_functions(graph, {spec}, *mb.module);
  auto fns = compile_module(std::move(mb), {spec.name}, {.optimize = false}).functions;
  std::vector<double> out(static_cast<size_t>(spec.out_size));
  std::vector<double> workspace(static_cast<size_t>(emitted[0].workspace_doubles) + 1);
  reinterpret_cast<KernelFn>(fns[0])(inputs.data(), out.data(), workspace.data(), &ctx);
  return out;
}

}  // namespace latent::codegen
