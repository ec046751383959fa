// A model with networks and/or a guide, bound to a data source, compiled for
// minibatches: the objective of SVI (value and gradient with respect to the
// learnable vector phi), per-datum importance log weights, and the gathering
// of a batch's rows into the data buffer.
//
// The program is lowered once per batch size, with the plate at that size
// (shapes are compile-time constants); the rows of plate-indexed data fields
// are copied in before each evaluation, so memory follows the batch.
#pragma once

#include "compiler/codegen/codegen.hpp"
#include "compiler/frontend/ast.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "data/data_source.hpp"
#include "runtime/model/plate.hpp"
#include "compiler/transforms/svi.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace latent {

struct EvalContext;

class SviModel {
 public:
  // max_rows > 0 keeps only the first max_rows data points of the plate.
  SviModel(std::shared_ptr<const ast::Program> program, std::shared_ptr<const DataSource> data, int64_t max_rows = 0);

  const std::string& plate() const { return plate_; }  // empty: no plate
  int64_t num_rows() const { return rows_; }            // data points in the plate (1 without one)
  const DataSource& data() const { return *data_; }
  const ast::Program& program() const { return *program_; }

  // One compiled objective, for batches (or parts of batches) of `rows` points.
  struct Compiled {
    LoweredProgram lowered;
    SviObjective objective;
    int64_t rows = 0;
    // Training: the value and the gradient. Evaluation: the value alone, and the
    // per-datum log weights (null when the model has none).
    codegen::KernelFn elbo_grad = nullptr;    // out: [elbo, d elbo / d phi]
    codegen::KernelFn elbo = nullptr;         // out: [elbo]
    codegen::KernelFn log_weights = nullptr;  // out: [rows]
    int64_t workspace = 0;
    int64_t num_phi() const { return objective.layout.num_phi; }
    int64_t noise_size() const { return objective.layout.noise_size; }
  };
  // Compiled once per (rows, options, use) and kept; thread-safe. Training
  // compiles elbo_grad; evaluation compiles elbo and log_weights (no gradient).
  enum class Use { Training, Evaluation };
  const Compiled& compiled(int64_t rows, const SviOptions& options, Use use = Use::Training);

  // The layout of phi (the same for every batch size): compiles for one row.
  const Compiled& reference();

  // The program lowered for batches of `rows` data points (the plate at `rows`).
  LoweredProgram lower(int64_t rows) const;

  // Writes the data buffer of `c` for the given rows (0-based, < num_rows()),
  // checking their values against the declared bounds.
  void gather(const Compiled& c, const int64_t* rows, std::vector<double>& data_buffer) const;

  // Evaluates c's function with the given buffers; returns false and fills ctx on a failed check.
  static void call(const Compiled& c, codegen::KernelFn fn, const double* phi, const double* data, const double* noise,
                   double* out, EvalContext* ctx);

 private:
  std::shared_ptr<const ast::Program> program_;
  std::shared_ptr<const DataSource> data_;
  std::string plate_;
  PlateInfo plate_info_;  // the plate, its fields and the data block's fields
  int64_t rows_ = 1;
  std::mutex mutex_;
  std::map<std::tuple<int64_t, bool, double, double, Use, bool>, std::unique_ptr<Compiled>> compiled_;
};

// Initial phi: layer weights uniform in +-1/sqrt(in) (PyTorch's nn.Linear),
// declared network variables in (-1, 1), automatic guide means in (-2, 2)
// (Stan's initialisation) and log scales 0.
std::vector<double> initial_phi(const SviModel::Compiled& c, uint64_t seed);

}  // namespace latent
