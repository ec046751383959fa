// A model with its data bound: the JIT-compiled log density and gradient, the
// constrained outputs (parameters, transformed parameters, generated
// quantities), and the conversions between constrained and unconstrained values.
#pragma once

#include "codegen/eval_context.hpp"
#include "lower/lowered_program.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace latent {

namespace ast {
struct Program;
}

// The log density function's spec: out[0] = log density (with the Jacobian when
// `jacobian`), out[1] = without it, out[2...] = gradient of out[0].
namespace codegen {
struct FunctionSpec;
}
codegen::FunctionSpec density_spec(const LoweredProgram& p, bool jacobian, const std::string& name);

// Where a non-finite log density comes from: the first failed check, or the
// statements whose contribution is not finite.
struct DensityDiagnosis {
  std::string failed_check;                  // "file:line:col: message (value = ...)"
  std::vector<std::string> non_finite_terms;  // "file:line:col: <statement> evaluates to -inf"
  std::string parameter_values;               // "mu = 0, sigma = -1"
  std::string text() const;
};

class BoundModel {
 public:
  // Lowers the checked program with `data` (which it validates).
  struct Options {
    bool keep_llvm_text = false;  // keep the LLVM IR text of what is compiled (for `latent ir`)
  };
  BoundModel(std::shared_ptr<const ast::Program> program, const DataSet& data, Options options);
  BoundModel(std::shared_ptr<const ast::Program> program, const DataSet& data)
      : BoundModel(std::move(program), data, Options{}) {}
  ~BoundModel();

  int64_t num_unconstrained() const { return lowered_.num_unconstrained; }
  const std::vector<ParameterInfo>& parameters() const { return lowered_.parameters; }
  const std::vector<VariableInfo>& transformed_parameters() const { return lowered_.transformed_parameters; }
  const std::vector<VariableInfo>& generated_quantities() const { return lowered_.generated_quantities; }

  // Log density at unconstrained theta, with the log-Jacobian when `jacobian`;
  // writes the gradient when grad != nullptr. Non-finite when a check fails
  // (ctx, if given, tells which). Thread-safe after the first call of each kind.
  double log_density(const double* theta, double* grad, bool jacobian, EvalContext* ctx = nullptr) const;

  // Constrained parameters, transformed parameters and generated quantities,
  // in CmdStan's column order (see output_names()).
  std::vector<double> constrained_outputs(const double* theta, EvalContext* ctx = nullptr) const;
  std::vector<std::string> output_names() const;

  // Uniform(-2, 2) on the unconstrained scale, like Stan's default initialisation.
  std::vector<double> random_point(std::mt19937_64& rng) const;
  // From constrained values by name (CmdStan's init format: a DataSet). Missing
  // parameters are drawn like random_point. Throws UserError naming the parameter.
  std::vector<double> unconstrain(const DataSet& values, std::mt19937_64& rng) const;

  DensityDiagnosis diagnose(const double* theta, bool jacobian) const;

  // Text of each stage for `latent ir`.
  std::string ir_text() const;          // the log density IR
  std::string gradient_ir_text() const; // the IR of its gradient
  std::string llvm_text(bool optimized) const;

  // Compiles the value-and-gradient functions now (otherwise on first use).
  void compile(bool jacobian) const;

  // A function over this model's IR built by the caller (a variational objective):
  // `build` runs under the model's lock and returns the spec to compile.
  struct CustomFunction {
    void (*fn)(const double* const* inputs, double* out, double* workspace, void* ctx) = nullptr;
    int64_t workspace = 0, out_size = 0;
    // inputs = {buffer 0, data, buffer 2...}; returns out (out_size doubles).
    void call(const std::vector<const double*>& inputs, double* out, EvalContext* ctx = nullptr) const;
    const ir::Graph* graph = nullptr;
  };
  CustomFunction compile_custom(const std::function<std::vector<std::pair<ir::NodeP, int64_t>>(const LoweredProgram&)>& build,
                                int64_t out_size) const;
  const std::vector<double>& data_buffer() const { return lowered_.data; }

  // Ahead-of-time export (runtime/model/export.cpp): an object file for this CPU
  // with the log density and its gradient (data embedded), and the C header to
  // call it. `prefix` must be a C identifier.
  struct Exported {
    std::string object, header;
  };
  Exported export_object(const std::string& prefix) const;

 private:
  struct Compiled;
  // One JIT module each; the first also holds the data checks.
  enum Kind { kDensityJacobian, kDensity, kOutputs, kTerms, kKinds };
  const Compiled& compiled(Kind which) const;
  // Calls function k of a compiled module at theta with the bound data.
  void run(const Compiled& c, size_t k, const double* theta, double* out, EvalContext* ctx) const;

  std::shared_ptr<const ast::Program> program_;
  LoweredProgram lowered_;
  bool keep_llvm_text_ = false;
  mutable std::mutex mutex_;
  mutable std::unique_ptr<Compiled> functions_[kKinds];
};

}  // namespace latent
