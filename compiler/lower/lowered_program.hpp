// The result of lowering a checked program with its data bound: the IR of the
// log density (as statement-level terms), the constrained parameters, the
// transformed parameters and generated quantities, and the data buffer.
#pragma once

#include "frontend/ast.hpp"
#include "ir/ir.hpp"
#include "transforms/constraints.hpp"

#include <memory>
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

// One statement's contribution to the log density (or a check that may fail).
struct Term {
  std::string location;  // "file:line:col"
  std::string statement; // the source line, trimmed
  ir::NodeP value;
  bool jacobian = false;  // a log-Jacobian term of a constraint transform
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

  ir::NodeP log_density(bool jacobian) const;
};

// Binds `data` to the program's data block (checking every field), computes
// transformed data, and lowers parameters, transformed parameters, the model and
// generated quantities to IR. Throws UserError with file:line:col or the field.
LoweredProgram lower_program(const ast::Program& program, const DataSet& data);

}  // namespace latent
