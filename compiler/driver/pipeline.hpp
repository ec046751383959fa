// The compiler's pipeline, in the order data flows through it:
//
//   program   = parse(text); check(program)          compiler/frontend
//   lowered   = lower(program, data)                 compiler/lower (shapes and data constants bound)
//   objective = build(lowered, method)               compiler/transforms (log density | ELBO | IWAE |
//                                                    SVI | generation), compiler/driver/objectives.cpp
//   gradient  = differentiate(objective)             compiler/autodiff (simplified as it is built)
//   module    = emit_llvm(gradient); optimise        compiler/codegen
//   code      = jit(module) or object_file(module)   compiler/codegen/jit.cpp (with the on-disk cache)
//
// `compile` in pipeline.cpp is that sequence, as one function. Every caller (the
// command line, the C++ API, export, MAP, ADVI, SVI, generation) goes through
// these entry points; the first two stages run once per program and data set,
// the rest once per objective.
//
// Every stage can be printed and timed: LATENT_DEBUG=ast,lowered,objective,gradient,llvm,llvm-optimized
// (or =all) prints the named stages to standard error, LATENT_TIME_STAGES=1 prints
// each stage's time; `latent ir --stage S --method M` prints one stage.
#pragma once

#include "common/source.hpp"
#include "compiler/codegen/codegen.hpp"
#include "compiler/frontend/ast.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "compiler/transforms/generation.hpp"
#include "compiler/transforms/svi.hpp"
#include "compiler/transforms/variational.hpp"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace latent {
class DataSet;
}

namespace latent::driver {

// ---- what to build ----------------------------------------------------------------------

// The objective a caller wants compiled from a lowered program.
struct Method {
  enum class Kind {
    LogDensity,   // [log p (with the Jacobian if `jacobian`), log p without it, gradient]; and the data checks
    Outputs,      // constrained parameters, transformed parameters, generated quantities
    Terms,        // each statement's contribution to the log density (diagnostics)
    Variational,  // ADVI: [ELBO or IWAE_K over `draws` draws, its gradient with respect to phi]
    Svi,          // SVI: training [ELBO, gradient] or evaluation [ELBO] and per-datum log weights
    Generate,     // `latent sample`: draws from the priors, the guide's means, the observed variables' means
  };
  Kind kind = Kind::LogDensity;
  bool jacobian = true;                         // LogDensity
  Family family = Family::MeanField;            // Variational
  int64_t draws = 1;                            // Variational
  bool iwae = false;                            // Variational
  SviOptions svi;                               // Svi
  bool evaluation = false;                      // Svi: no gradient, with per-datum log weights
  GenerationStep step = GenerationStep::Prior;  // Generate
  bool draw_globals = false;                    // Generate (Prior): draw global parameters too

  static Method log_density(bool jacobian) {
    Method m;
    m.jacobian = jacobian;
    return m;
  }
  static Method outputs() { return of(Kind::Outputs); }
  static Method terms() { return of(Kind::Terms); }
  static Method variational(Family family, int64_t draws, bool iwae) {
    Method m = of(Kind::Variational);
    m.family = family;
    m.draws = draws;
    m.iwae = iwae;
    return m;
  }
  static Method stochastic_vi(const SviOptions& options, bool evaluation) {
    Method m = of(Kind::Svi);
    m.svi = options;
    m.evaluation = evaluation;
    return m;
  }
  static Method generate(GenerationStep step, bool draw_globals) {
    Method m = of(Kind::Generate);
    m.step = step;
    m.draw_globals = draw_globals;
    return m;
  }
  static Method of(Kind kind) {
    Method m;
    m.kind = kind;
    return m;
  }
  std::string describe() const;  // "log density (with the log-Jacobian)", "SVI training objective", ...
};

// One function of an objective: values of IR nodes written at offsets of `out`,
// and optionally the gradient of one scalar node with respect to Input buffer 0.
struct Function {
  std::string name;  // its symbol in the compiled module
  std::vector<codegen::OutputSpec> outputs;
  int64_t out_size = 0;
  ir::NodeP gradient_of = nullptr;  // its gradient is written at out + gradient_offset
  int64_t gradient_offset = 0;
  bool runs_once = false;  // see codegen::FunctionSpec
};

// What `build` makes of a lowered program for a method: the functions to compile
// and what the runtime must know about them.
struct Objective {
  std::string description;
  std::vector<Function> functions;
  bool single_precision_products = false;  // SVI --precision mixed
  std::optional<SviObjective> svi;         // Svi: the layout of phi
  std::optional<GenerationProgram> generation;  // Generate: the noise and the theta ranges written
};

// ---- the stages ----------------------------------------------------------------------------

enum class Stage { Ast, Lowered, Objective, Gradient, Llvm, LlvmOptimized, Count };
const char* stage_name(Stage s);                   // "ast", "lowered", ...
std::optional<Stage> stage_from_name(const std::string& name);

// What to do with the stages of a compilation besides running them. By default
// they are printed and timed as LATENT_DEBUG and LATENT_TIME_STAGES say.
struct StageOptions {
  std::array<bool, static_cast<size_t>(Stage::Count)> capture{};  // keep the stage's text in Compiled::stage_text
  bool use_cache = true;
};

struct Compiled {
  Objective objective;
  std::vector<codegen::KernelFn> functions;  // in the objective's order
  std::vector<int64_t> workspace;            // doubles of scratch space each function needs
  bool from_cache = false;
  std::array<std::string, static_cast<size_t>(Stage::Count)> stage_text;  // captured stages
};

// parse + check. Throws UserError with every syntax or type error (file:line:col).
std::shared_ptr<const ast::Program> parse(std::shared_ptr<const SourceFile> source);
std::shared_ptr<const ast::Program> parse_file(const std::string& path);

// lower: binds the data (checking every field) and lowers the program to IR.
LoweredProgram lower(const ast::Program& program, const DataSet& data, LowerOptions options = {});

// build: the objective of `method` over the lowered program (adds nodes to its graph).
Objective build(LoweredProgram& lowered, const Method& method);

// The rest of the pipeline: build, differentiate, emit LLVM, optimise, JIT.
Compiled compile(LoweredProgram& lowered, const Method& method, const StageOptions& options = {});

// The same, ending in an object file for this CPU (`latent export`): the data
// buffer is embedded as the constant array `<name>_data`; the objective's first
// function is named `<name>_<its name>`.
struct ObjectCode {
  std::string object;
  Objective objective;
  std::vector<int64_t> workspace;
};
ObjectCode compile_object(LoweredProgram& lowered, const Method& method, const std::string& name);

// Runs data-only IR once (transformed data, bounds of initial values).
std::vector<double> evaluate(const ir::Graph& graph, const std::vector<ir::NodeP>& nodes,
                             const std::vector<const double*>& inputs, EvalContext& ctx);

// The text of a stage, as `latent ir` prints it.
std::string ast_text(const ast::Program& program);
std::string lowered_text(const LoweredProgram& lowered);
std::string functions_text(const LoweredProgram& lowered, const std::vector<Function>& functions);

}  // namespace latent::driver
