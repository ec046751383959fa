// Generating from a fitted deep generative model (`latent sample`): new data
// from the prior, reconstructions (x -> the mean of q(z | x) -> the decoded
// mean) and interpolations between the codes of two data points.
//
// The program is lowered with the plate at R rows (as for SVI) and the steps of
// compiler/transforms/generation.hpp (prior draws, the guide's means, draws or
// means of the observed variables) are compiled from it by the pipeline, each on
// demand. A variable that feeds its own distribution (autoregressive) is drawn
// position by position. All read the unconstrained parameter vector theta (Input 0), the data
// (Input 1), the model's network (Input 3) and the guide's network (Input 4).
// This file runs them: it gathers data rows, keeps theta between the steps and
// batches the rows. Writing the results: runtime/output/generated_output.hpp.
//
// Parameters indexed by the plate (one latent per datum) are drawn from their
// priors; global parameters are set to their fitted value (the guide's mean:
// the automatic guide's mu, or the guide block's location), or drawn from
// their priors with Globals::Prior (the default for a model without a plate,
// whose every parameter is global: each generated row is then one draw).
// Only parameters that the generated means depend on are needed.
#pragma once

#include "compiler/frontend/ast.hpp"
#include "data/data_rows.hpp"
#include "data/data_source.hpp"
#include "runtime/model/plate.hpp"
#include "runtime/output/generated_output.hpp"
#include "kernels/random.hpp"
#include "runtime/model/svi_model.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace latent {

// What is generated for each observed variable: a draw from its distribution
// (as the model says the data arise), or the distribution's mean.
enum class Output { Draws, Means };

enum class Globals {
  Default,  // Fit with a plate, Prior without
  Fit,      // global parameters at their fitted guide means
  Prior,    // every needed parameter drawn from its prior
};

class Generator {
 public:
  // Lowers the program for one row (no compilation). `data` gives the shapes
  // (and, for a model without a plate, the data itself).
  Generator(std::shared_ptr<const ast::Program> program, std::shared_ptr<const DataSource> data);
  ~Generator();
  Generator(const Generator&) = delete;
  Generator& operator=(const Generator&) = delete;

  // The layout of phi, to read a fit with read_svi_fit (and to set phi by hand).
  const SviModel::Compiled& layout() const { return *layout_; }
  // The learnable vector (layout().num_phi() values).
  void set_phi(std::vector<double> phi);
  // Reads a fit file written by `latent fit --method svi --output`.
  void read_fit(const std::string& path);

  // Draws (the default) or means of the observed variables; the seed of the draws
  // of reconstructions and interpolations (prior() takes its own).
  void set_output(Output output) { output_ = output; }
  void set_seed(uint64_t seed) { rng_ = random_engine(seed); }

  const std::string& plate() const { return plate_; }
  // Data points in the plate of the data source (1 without a plate).
  int64_t num_rows() const { return rows_; }
  const DataSource& data() const { return *data_; }
  const std::vector<GeneratedField>& fields() const { return fields_; }
  const std::string& model_path() const;

  // n rows from the prior (in batches of at most `batch` rows).
  Generated prior(int64_t n, uint64_t seed, Globals globals = Globals::Default, int64_t batch = 256);
  // Each row through the encoder's mean and the decoder.
  Generated reconstruct(const std::vector<DataRow>& rows, int64_t batch = 256);
  // The decoded means along z = (1 - t) z_a + t z_b, t = 0, 1/(steps-1), ..., 1
  // for the guided plate parameters (steps >= 2).
  Generated interpolate(const DataRow& a, const DataRow& b, int64_t steps);
  // The generated fields' values in the given data rows (originals beside reconstructions).
  Generated originals(const std::vector<DataRow>& rows) const;

  // ---- the pieces, for R rows (R = 1 without a plate) --------------------
  // The lowered program for R rows (parameters' unconstrained offsets, ...).
  const LoweredProgram& lowered(int64_t rows);
  // theta (num_unconstrained values) with every parameter at its fitted value
  // where one exists: the automatic guide's mu; 0 elsewhere.
  std::vector<double> fitted_theta(int64_t rows);
  // theta with the guided parameters at the encoder's means for these rows
  // (exactly R = rows.size() rows; others from fitted_theta).
  std::vector<double> encode(const std::vector<DataRow>& rows);
  // theta with the needed parameters drawn from their priors (R rows).
  std::vector<double> prior_theta(int64_t rows, uint64_t seed, Globals globals = Globals::Default);
  // The observed variables given theta (R rows): draws, or means (set_output).
  Generated decode(const std::vector<double>& theta, int64_t rows);

 private:
  struct Stage;
  Stage& stage(int64_t rows);
  void compile(Stage& s, int which, Globals globals);
  void gather(const Stage& s, const std::vector<DataRow>& rows, std::vector<double>& buffer) const;
  void run(const Stage& s, int which, const double* theta, const double* data, std::vector<double>& out);
  std::vector<double> draw_position_by_position(Stage& s, const std::vector<double>& theta);
  std::vector<double> encoded_theta(Stage& s, const std::vector<double>& data);
  Globals effective(Globals g) const;

  std::shared_ptr<const ast::Program> program_;
  std::shared_ptr<const DataSource> data_;
  std::string plate_;
  PlateInfo plate_info_;  // the plate, its fields and the data block's fields
  int64_t rows_ = 1;
  std::unique_ptr<SviModel::Compiled> layout_;
  std::vector<double> phi_;
  bool phi_set_ = false;
  std::vector<GeneratedField> fields_;
  std::map<int64_t, std::unique_ptr<Stage>> stages_;
  Output output_ = Output::Draws;
  RandomEngine rng_ = random_engine(0);  // every draw: priors and observed variables
};

}  // namespace latent
