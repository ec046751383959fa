// Code generation: IR -> LLVM IR.
//
// Every generated function has the C signature
//   void f(const double* const* inputs, double* out, double* workspace, void* ctx)
// inputs[b] is the buffer read by Input nodes with buffer b (0 = parameters,
// 1 = data, ...); each output node is stored at out + offset in column-major
// order. Tensors that must exist in memory (matrix products, values used more
// than once, loop results) live in the workspace, whose size codegen computes;
// elementwise chains used once are fused into the loop of their consumer.
// ctx is handed back to the runtime callbacks (failed checks, print).
#pragma once

#include "compiler/ir/ir.hpp"

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace latent::codegen {

using KernelFn = void (*)(const double* const* inputs, double* out, double* workspace, void* ctx);

struct OutputSpec {
  ir::NodeP node;
  int64_t offset;
};

struct FunctionSpec {
  std::string name;
  std::vector<OutputSpec> outputs;
  int64_t out_size = 0;  // doubles the caller must provide at `out` (zeroed by the function)
  // Large matrix products (>= kSinglePrecisionProductSize multiply-adds) in single
  // precision, as deep-learning frameworks compute them; everything else stays double.
  bool single_precision_products = false;
  // Run once (the data checks, when a model is bound): compiled without LLVM's
  // optimisation passes (optnone), which cost more than they would save.
  bool runs_once = false;
};

inline constexpr int64_t kSinglePrecisionProductSize = int64_t{1} << 20;

struct EmittedFunction {
  std::string name;
  int64_t workspace_doubles = 0;
  int64_t out_size = 0;
};

// Emits each spec as a function into `module`.
std::vector<EmittedFunction> emit_functions(const ir::Graph& graph, const std::vector<FunctionSpec>& specs,
                                            llvm::Module& module);

}  // namespace latent::codegen
