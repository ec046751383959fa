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

// Starts creating the process's JIT on another thread (the first compile waits
// for it); called when parsing starts, so that the two overlap.
void start_jit();

// A fresh context + module set up for the host target (triple and data layout).
struct ModuleBuilder {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module;
};
ModuleBuilder new_module(const std::string& name);

// Runs the optimisation pipeline (jit.cpp: O2's passes that pay for generated code;
// the loop vectoriser with glibc's vector math library).
void optimize_module(llvm::Module& module);

// Textual LLVM IR of a module.
std::string module_text(const llvm::Module& module);

struct CompileOptions {
  bool optimize = true;       // run the optimisation pipeline (one-off evaluations skip it)
  bool use_cache = true;      // look the object up in (and store it to) the disk cache
  bool keep_text = false;     // keep the LLVM IR text before and after optimisation
};

struct CompiledModule {
  std::vector<void*> functions;  // addresses of the named functions, in order
  bool from_cache = false;
  std::string text_before, text_after;  // with keep_text (after: empty on a cache hit)
};

// Compiles an (optimised) module to an object file for the host CPU.
std::string compile_to_object(llvm::Module& module);

// Optimises the module (unless cached), compiles it to an object for the host
// CPU, adds it to the process JIT and returns the named functions. Thread-safe.
CompiledModule compile_module(ModuleBuilder built, const std::vector<std::string>& function_names,
                              const CompileOptions& options = {});

}  // namespace latent::codegen
