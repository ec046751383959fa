// Draws in CmdStan's CSV layout (what `latent fit` writes and CmdStan's
// methods write): '#' comment lines, one header line of column names (lp__,
// theta.1, theta.2, ...: every index column-major, the first index fastest),
// then one line of numbers per draw. Read back for standalone generated
// quantities (`latent generate`).
#pragma once

#include "data/json_data.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

struct DrawsTable {
  std::string source;  // the path, for messages
  std::vector<std::string> columns;
  std::vector<std::vector<double>> rows;
  int64_t column(const std::string& name) const;  // -1 when absent
};

// Reads a file; throws UserError (path:line) for an empty file, rows of another
// width than the header, and fields that are not numbers (nan and inf are).
DrawsTable read_draws_csv(const std::string& path);
DrawsTable parse_draws_csv(const std::string& text, const std::string& source);

// Variable `name` (Stan dims `dims`, array dims first) in row `row`, gathered from
// its columns into JSON nesting order. Throws UserError naming a missing column.
DataValue variable_in_row(const DrawsTable& table, size_t row, const std::string& name,
                          const std::vector<int64_t>& dims);

}  // namespace latent
