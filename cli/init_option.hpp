// CmdStan's `init` argument, one reading for every method that takes --init
// (map, laplace, advi, fullrank, dadvi, nuts): a number R >= 0 draws the initial
// unconstrained values uniform(-R, R) (0: all zero; the default, without --init,
// is R = 2), anything else is a file of constrained values by name (JSON or R
// dump; parameters it does not name are drawn as with R = 2).
#pragma once

#include "data/json_data.hpp"

#include <memory>
#include <string>

namespace latent::cli {

struct InitOption {
  double radius = 2;
  std::shared_ptr<const DataSet> values;  // the file's values; null for a radius
  std::string text = "2";                 // as given, for CSV headers
};

// "" (no --init) gives the default. Throws UserError naming --init for a
// negative or non-finite radius, and the file's own errors.
InitOption read_init_option(const std::string& given);

}  // namespace latent::cli
