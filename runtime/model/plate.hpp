// The plate of a program with minibatches: the `int<plate> N` of its data
// block and the data fields whose first dimension it is (their rows are
// gathered batch by batch). Read from the AST, before any data is bound.
#pragma once

#include "compiler/frontend/ast.hpp"

#include <string>
#include <vector>

namespace latent {

struct PlateInfo {
  std::string name;                 // empty: the program has no plate
  std::vector<std::string> fields;  // data fields indexed by the plate, in declaration order
};

PlateInfo plate_of(const ast::Program& program);

class DataSource;

// The number of data points in the plate (1 without one), checked against the
// data: the plate field is a positive integer and every plate-indexed field has
// at least that many rows. Throws UserError naming the data source and field.
int64_t plate_rows(const PlateInfo& plate, const DataSource& data);

}  // namespace latent
