// Writing generated data (`latent sample`): rows of generated variables as CSV,
// or as a PNG grid of images.
#pragma once

#include "data/data_source.hpp"

#include <cstdint>
#include <string>
#include <utility>
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

// Sequences as FASTA: each row of `field` holds one-hot (or probability) letters
// over `alphabet`, category-major: the column of letter k at position l is
// k * L + l (0-based; what to_matrix(x, N * L, K) reads as one row per letter).
// Each position is written as its largest column's letter; records are named
// sample_1, sample_2, ... Throws UserError when the row size is not a multiple
// of the alphabet's size. Written atomically.
void write_generated_fasta(const std::string& path, const Generated& g, size_t field, const std::string& alphabet);

}  // namespace latent
