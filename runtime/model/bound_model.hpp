// A model with its data bound: the JIT-compiled log density and gradient, the
// constrained outputs (parameters, transformed parameters, generated
// quantities), and the conversions between constrained and unconstrained values.
#pragma once

#include "compiler/driver/pipeline.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "kernels/eval_context.hpp"

#include <atomic>
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

// Where a non-finite log density comes from: the first failed check, or the
// statements whose contribution is not finite.
struct DensityDiagnosis {
  std::string failed_check;                  // "file:line:col: message (value = ...)"
  std::vector<std::string> non_finite_terms;  // "file:line:col: <statement> evaluates to -inf"
  std::string parameter_values;               // "mu = 0, sigma = -1"
  std::string text() const;
};

// The program, if it has no network or guide block (a log density of its
// parameters alone); otherwise a UserError pointing to --method svi.
const ast::Program& without_networks(const ast::Program& program);

class BoundModel {
 public:
  // Lowers the checked program with `data` (which it validates) and runs the
  // checks that depend on data alone. Refuses programs with networks or a guide
  // (they are fitted by SVI: runtime/model/svi_model.hpp).
  struct Options {
    std::ostream* print_stream = nullptr;  // where print() writes (null: nowhere)
    uint64_t seed = 0;                     // of transformed data's `_rng` calls
    // Keep the constants `~` drops (Stan's log_prob<propto=false>): ADVI's
    // log_p__, as CmdStan writes it. They do not depend on the parameters.
    bool keep_constants = false;
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
  // in CmdStan's column order (see output_names()). The `_rng` calls of generated
  // quantities draw from ctx->rng (give one per stream of output rows).
  std::vector<double> constrained_outputs(const double* theta, EvalContext* ctx = nullptr) const;
  std::vector<std::string> output_names() const;

  // Uniform(-2, 2) on the unconstrained scale, like Stan's default initialisation.
  std::vector<double> random_point(std::mt19937_64& rng) const;
  // From constrained values by name (CmdStan's init format: a DataSet). Missing
  // parameters are drawn like random_point. Throws UserError naming the parameter.
  std::vector<double> unconstrain(const DataSet& values, std::mt19937_64& rng) const;

  DensityDiagnosis diagnose(const double* theta, bool jacobian) const;

  // Compiles the value-and-gradient functions now (otherwise on first use).
  void compile(bool jacobian) const;
  // Whether they came from the on-disk object cache (compiling them if need be).
  bool compiled_from_cache(bool jacobian) const;

  // Another objective over this model (ADVI's ELBO), compiled by the pipeline.
  struct CompiledFunction {
    codegen::KernelFn fn = nullptr;
    int64_t workspace = 0, out_size = 0;
    const std::vector<Message>* messages = nullptr;
    std::ostream* print_stream = nullptr;
    // inputs = {buffer 0, data, buffer 2...}; writes out_size doubles at out.
    void call(const std::vector<const double*>& inputs, double* out, EvalContext* ctx = nullptr) const;
    void call(const double* const* inputs, double* out, EvalContext* ctx = nullptr) const;
  };
  CompiledFunction compile(const driver::Method& method) const;
  const std::vector<double>& data_buffer() const { return lowered_.data; }

  // Ahead-of-time export (runtime/model/export.cpp): an object file for this CPU
  // with the log density and its gradient (data embedded), and the C header to
  // call it. `prefix` must be a C identifier.
  struct Exported {
    std::string object, header;
  };
  Exported export_object(const std::string& prefix) const;

 private:
  // The functions compiled for each use; the first also holds the data checks.
  enum Kind { kDensityJacobian, kDensity, kOutputs, kTerms, kKinds };
  const driver::Compiled& compiled(Kind which) const;
  // Calls function k of a compiled objective at theta with the bound data.
  void run(const driver::Compiled& c, size_t k, const double* theta, double* out, EvalContext* ctx) const;

  std::shared_ptr<const ast::Program> program_;
  Options options_;
  mutable LoweredProgram lowered_;  // compiling adds the objectives' nodes to its graph (under mutex_)
  mutable std::mutex mutex_;
  mutable std::unique_ptr<driver::Compiled> functions_[kKinds];
  // functions_[k] once compiled, read without the lock (samplers call the density
  // from several threads millions of times).
  mutable std::atomic<const driver::Compiled*> ready_[kKinds] = {};
};

}  // namespace latent
