// Generating from a fitted deep generative model (`latent sample`): new data
// from the prior, reconstructions (x -> the mean of q(z | x) -> the decoded
// mean) and interpolations between the codes of two data points.
//
// The program is lowered with the plate at R rows (as for SVI) and three
// functions are compiled from it, each on demand:
//   prior    the parameters drawn from their whole-parameter normal priors,
//            z = loc + scale * eps (eps: Input 2), a prior that depends on
//            another drawn parameter reading that parameter's draw;
//   encoder  the guide's location of every guided parameter (the mean of q)
//            for the rows in the data buffer;
//   decoder  the mean of each observed data variable's distribution given the
//            parameters (bernoulli_logit -> inv_logit(alpha), normal -> mu, ...).
// All read the unconstrained parameter vector theta (Input 0), the data
// (Input 1), the model's network (Input 3) and the guide's network (Input 4).
//
// Parameters indexed by the plate (one latent per datum) are drawn from their
// priors; global parameters are set to their fitted value (the guide's mean:
// the automatic guide's mu, or the guide block's location), or drawn from
// their priors with Globals::Prior (the default for a model without a plate,
// whose every parameter is global: each generated row is then one draw).
// Only parameters that the generated means depend on are needed.
#pragma once

#include "frontend/ast.hpp"
#include "runtime/data/data_source.hpp"
#include "runtime/model/svi_model.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace latent {

// A data variable the model generates: the target of `y ~ dist(...)` on a
// whole data variable, indexed by the plate (for a model without a plate:
// every such variable, one row being the whole variable).
struct GeneratedField {
  std::string name;
  std::vector<int64_t> row_dims;  // Stan dims of one row (without the plate)
  bool is_matrix = false;         // declared matrix (only matters for names without a plate)
  std::string distribution;
  int64_t row_size() const {
    int64_t n = 1;
    for (auto d : row_dims) n *= d;
    return n;
  }
};

// Generated (or original) rows: values[f] holds rows * fields[f].row_size()
// numbers, each row in row-major (JSON nesting) order, rows one after another.
struct Generated {
  int64_t rows = 0;
  std::vector<GeneratedField> fields;
  std::vector<std::vector<double>> values;
  std::vector<double> row(size_t field, int64_t r) const;
};

// One row of a data source (0-based).
struct DataRow {
  std::shared_ptr<const DataSource> source;
  int64_t row = 0;
};

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
  // The decoded means for theta (R rows).
  Generated decode(const std::vector<double>& theta, int64_t rows);

 private:
  struct Stage;
  Stage& stage(int64_t rows);
  void compile(Stage& s, int which, Globals globals);
  void gather(const Stage& s, const std::vector<DataRow>& rows, std::vector<double>& buffer) const;
  void run(const Stage& s, int which, const double* theta, const double* data, const double* noise,
           std::vector<double>& out) const;
  std::vector<double> encoded_theta(Stage& s, const std::vector<double>& data);
  bool draws(const ParameterInfo& p, Globals globals) const;
  Globals effective(Globals g) const;

  std::shared_ptr<const ast::Program> program_;
  std::shared_ptr<const DataSource> data_;
  std::string plate_;
  std::vector<std::string> plate_fields_;
  int64_t rows_ = 1;
  std::unique_ptr<SviModel::Compiled> layout_;
  std::vector<double> phi_;
  bool phi_set_ = false;
  std::vector<GeneratedField> fields_;
  std::map<int64_t, std::unique_ptr<Stage>> stages_;
};

// ---- the command line's pieces ------------------------------------------

// Rows named on the command line: "0-63", "5", "train:5-9", "test:0-63",
// several separated by commas ("test:0,test:1"). `train:` and plain rows are
// rows of `data_spec` (the fit's data); `test:` rows are rows of its test
// split (fashion-mnist[:train] -> fashion-mnist:test, an MNIST-named
// train-images-idx3-ubyte[.gz] -> t10k-images-idx3-ubyte[.gz] beside it).
// `train` is the already open source for data_spec. Throws UserError for a
// malformed spec, a source without a test split or a row out of range.
std::vector<DataRow> parse_rows(const std::string& spec, const std::string& data_spec,
                                std::shared_ptr<const DataSource> train, const std::string& plate);

// The test split of a data spec ("" when it has none).
std::string test_split_of(const std::string& data_spec);

// Height and width of the images of a field with `row_size` values per row:
// the data's H and W fields when present (and H * W == row_size), else a
// square. Throws UserError (suggesting --csv) otherwise.
std::pair<int, int> image_shape(const DataSource& data, const GeneratedField& field);

// One CSV row per generated row; columns name.1, name.2 (name.i.j for rows
// with several dims) of every field. Written atomically.
void write_generated_csv(const std::string& path, const Generated& g);

// A PNG grid of one field's rows (see write_png_grid). With `originals`
// (same rows), grid rows alternate: `columns` originals, then their
// reconstructions.
void write_generated_png(const std::string& path, const Generated& g, size_t field, int height, int width,
                         int columns, const Generated* originals = nullptr);

}  // namespace latent
