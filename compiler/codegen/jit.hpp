// The LLVM ORC JIT: optimises generated modules for the host CPU and returns
// callable addresses. One LLJIT per process, shared by every compiled model;
// generated code calls the runtime kernels directly (symbols bound at start-up).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace latent::codegen {

// A fresh context + module set up for the host target (triple and data layout).
struct ModuleBuilder {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
};
ModuleBuilder new_module(const std::string& name);

// Runs the O2 pipeline (loop vectoriser with glibc's vector math library).
void optimize_module(llvm::Module& module);

// Textual LLVM IR of a module.
std::string module_text(const llvm::Module& module);

// Starts LLVM's one-time initialisation (target tables, pass pipeline, JIT
// linker) on a background thread, so that the first model compiles as fast as
// later ones. Returns at once; later calls do nothing.
void warm_up_in_background();

// Adds the (optimised) module to the process JIT and returns the address of each
// named function, in order. Thread-safe.
std::vector<void*> jit_add_module(ModuleBuilder built, const std::vector<std::string>& function_names);

}  // namespace latent::codegen
