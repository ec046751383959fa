// The plate of a program with minibatches: the `int<plate> N` of its data
// block and the data fields whose first dimension it is (their rows are
// gathered batch by batch). Read from the AST, before any data is bound.
#pragma once

#include "frontend/ast.hpp"

#include <string>
#include <vector>

namespace latent {

struct PlateInfo {
  std::string name;                 // empty: the program has no plate
  std::vector<std::string> fields;  // data fields indexed by the plate, in declaration order
};

PlateInfo plate_of(const ast::Program& program);

}  // namespace latent
