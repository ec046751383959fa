// The result of lowering a checked program with its data bound: the IR of the
// log density (as statement-level terms), the constrained parameters, the
// transformed parameters and generated quantities, and the data buffer.
#pragma once

#include "compiler/frontend/ast.hpp"
#include "compiler/ir/ir.hpp"
#include "compiler/lower/flows.hpp"
#include "kernels/eval_context.hpp"
#include "stdlib/library.hpp"
#include "data/check_data.hpp"
#include "compiler/transforms/constraints.hpp"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace latent {

class DataSet;

// A named program variable as the user sees it.
struct VariableInfo {
  std::string name;
  Type type;
  std::vector<int64_t> stan_dims;  // array dims first, then vector/matrix dims
  bool is_matrix = false;          // the last two stan_dims are a matrix
  ir::NodeP value = nullptr;       // its IR value (constrained; IR storage order)
  bool plate = false;              // its first dimension is the plate (one per datum)
  bool plate_last_axis = false;    // that dimension is an array's (array[N] ...): the last IR axis, else the first
  int64_t size() const {
    int64_t n = 1;
    for (auto d : stan_dims) n *= d;
    return n;
  }
};

struct ParameterInfo : VariableInfo {
  ConstraintSpec constraint;
  int64_t simplex_length = 0;
  int64_t unconstrained_offset = 0;
  int64_t unconstrained_size = 0;
};

// A `y ~ dist(args)` statement as lowered, for the transforms that read the
// model's structure (SVI's analytic KL, generation): what was drawn from what.
struct TildeRecord {
  const stdlib::DistributionEntry* distribution = nullptr;
  std::string variable;  // the variate's name when it is a whole variable (`y`, `to_vector(y)`), else ""
  std::string block;     // where that variable is declared: "data", "parameters", ...
  stdlib::Value variable_value;  // that variable's value when the statement ran
  stdlib::Value variate;
  std::vector<stdlib::Value> params;
  // Not inside a loop or under a condition known only at run time: the
  // statement's density covers the whole variate, once.
  bool top_level = false;
  // T[L, U]: the variate is not a draw of `distribution` (no generation, no closed-form KL).
  bool truncated = false;
  // `x ~ f(mu, sigma)` with f a flow: `distribution` (normal) is the base's, and the
  // variate is the flow's image of a base draw (no closed-form KL).
  std::shared_ptr<const flows::Flow> flow;
};

// One statement's contribution to the log density (or a check that may fail).
struct Term {
  std::string location;  // "file:line:col"
  std::string statement; // the source line, trimmed
  ir::NodeP value;
  bool jacobian = false;  // a log-Jacobian term of a constraint transform
  std::optional<TildeRecord> tilde;  // the term of a `~` statement
};

// A learnable tensor of a network (a layer's weight or bias, or a declared
// network variable): Input `buffer` (3: the model's network, 4: the guide's) at `offset`.
struct NetworkTensor {
  std::string name;  // "enc_h.weight", "enc_h.bias", "mu_k"
  int buffer = 3;
  int64_t offset = 0;
  std::vector<int64_t> dims;  // IR dims
  double init_bound = 1;      // initialised uniformly in (-init_bound, init_bound)
  int64_t size() const {
    int64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
};

// `z ~ dist(params)` in the guide: q's distribution of a whole parameter (the
// parameters are real and have z's IR dims).
struct GuideDraw {
  std::string parameter;
  std::string location;  // file:line:col
  const stdlib::DistributionEntry* distribution = nullptr;
  std::vector<ir::NodeP> params;  // in the shape of what is drawn
  // `z[t] ~ ...`: the draw is a piece of the parameter, flat elements
  // [piece_offset, piece_offset + size of piece_dims) (a slowest-axis block).
  // Later statements read it as `placeholder` (an Input of kGuidePieceBuffer),
  // which SVI replaces by the piece's draw.
  ir::NodeP placeholder = nullptr;
  int64_t piece_offset = 0;
};
// The buffer of the placeholders of guide pieces: never compiled.
inline constexpr int kGuidePieceBuffer = 6;
// The buffer of the placeholders of pieces drawn by the model block simulated
// (LoweredProgram::ancestral): resolved before lowering ends.
inline constexpr int kSimulatedPieceBuffer = 7;

// A parameter drawn element by element by the model block run as a simulation:
// its value after the simulation, or why it cannot be simulated.
struct AncestralDraw {
  ir::NodeP value;      // reads no Input of kSimulatedPieceBuffer
  std::string problem;  // non-empty: value is unusable ("z[2] is read before...")
};

// A data field indexed by the plate: its rows are gathered batch by batch.
struct PlateField {
  DeclaredShape shape;  // with the plate dimension at the batch size
  int64_t offset = 0;   // in the data buffer
};

struct LoweredProgram {
  std::unique_ptr<ir::Graph> graph = std::make_unique<ir::Graph>();
  std::shared_ptr<const SourceFile> source;
  std::vector<ParameterInfo> parameters;
  std::vector<VariableInfo> transformed_parameters;
  std::vector<VariableInfo> generated_quantities;
  std::vector<Term> terms;                  // model block, transformed-parameter checks, Jacobians
  std::vector<ir::NodeP> generated_checks;  // checks and prints of generated quantities
  std::vector<ir::NodeP> data_checks;       // checks that depend on data only: run once at bind
  std::vector<double> data;                 // the data buffer read by Input nodes of buffer 1
  int64_t num_unconstrained = 0;

  // Networks and guide (empty for a plain Stan program).
  std::vector<NetworkTensor> network;       // model's (buffer 3) then guide's (buffer 4)
  int64_t network_size[2] = {0, 0};         // elements of buffers 3 and 4
  std::vector<GuideDraw> guide;             // the guide's ~ statements, in order
  std::vector<ir::NodeP> guide_checks;      // checks of the guide's statements
  bool has_guide = false;
  // With LowerOptions::ancestral: each parameter's value after the model block run
  // as a simulation (its `~` statements on elements of parameters drawing), for
  // the parameters that it draws; generation draws from these the parameters
  // whose prior is spread over several statements (z[t] ~ ... in a loop). The
  // statements need not be in ancestral order: each draw reads the draws of
  // the elements it reads, wherever they are drawn.
  std::map<std::string, AncestralDraw> ancestral;

  // The plate (empty name: none) and the data fields indexed by it.
  std::string plate;
  int64_t plate_size = 0;  // the plate's size in the bound data (the batch size when subsampling)
  std::vector<PlateField> plate_fields;

  ir::NodeP log_density(bool jacobian) const;
};

// Binds `data` to the program's data block (checking every field), computes
// transformed data, and lowers parameters, transformed parameters, the model and
// generated quantities to IR. Throws UserError with file:line:col or the field.
struct LowerOptions {
  // Keep every constant of `~` statements (variational objectives need the true
  // density); Stan's default drops terms that do not depend on parameters.
  bool keep_constants = false;
  // Runs data-only IR once (transformed data): the values of `nodes`, flattened in
  // storage order and concatenated; failed checks are reported in ctx. Lowering
  // does not compile code itself: the pipeline (compiler/driver) passes this in.
  std::function<std::vector<double>(const ir::Graph& graph, const std::vector<ir::NodeP>& nodes,
                                    const std::vector<const double*>& inputs, EvalContext& ctx)>
      evaluate = nullptr;
  // Transformed data: where its print() statements write (null: nowhere) and the
  // seed of its `_rng` calls.
  std::ostream* print_stream = nullptr;
  uint64_t seed = 0;
  // Lower the model block a second time as a simulation (LoweredProgram::ancestral).
  bool ancestral = false;
};

LoweredProgram lower_program(const ast::Program& program, const DataSet& data, const LowerOptions& options = {});

}  // namespace latent
