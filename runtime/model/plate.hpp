// The plate of a program with minibatches: the `int<plate> N` of its data
// block and the data fields whose first dimension it is (their rows are
// gathered batch by batch). Read from the AST, before any data is bound.
#pragma once

#include "compiler/frontend/ast.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

struct PlateInfo {
  std::string name;                 // empty: the program has no plate
  std::vector<std::string> fields;  // data fields indexed by the plate, in declaration order
  std::vector<std::string> data;    // every field of the data block (the only ones read)
};

PlateInfo plate_of(const ast::Program& program);

class DataSource;
class DataSet;

// The data a program is compiled against for a batch: the data block's fields
// (no other field of the source is read), the plate-indexed ones cut to the
// source's rows `rows` (0-based), and the plate set to their number.
DataSet batch_view(const PlateInfo& plate, const DataSource& data, const std::vector<int64_t>& rows);

// The largest plate (data points) a program may have.
constexpr int64_t kMaxPlateRows = int64_t{1} << 31;

// The number of data points in the plate (1 without one), checked against the
// data: the plate field is a positive integer (at most kMaxPlateRows) and every
// plate-indexed field has exactly that many rows. Throws UserError naming the data
// source and the field.
int64_t plate_rows(const PlateInfo& plate, const DataSource& data);

}  // namespace latent
