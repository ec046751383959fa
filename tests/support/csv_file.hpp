// CSV files as latent writes them (CmdStan's layout): comment lines, a header,
// rows of numbers. For the tests of the methods that write draws.
#pragma once

#include "tests/support/model_fixture.hpp"

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace latent::testing {

struct Csv {
  std::vector<std::string> comments, header;
  std::vector<std::vector<double>> rows;
  size_t column(const std::string& name) const {
    auto it = std::find(header.begin(), header.end(), name);
    BOOST_REQUIRE_MESSAGE(it != header.end(), "no column " << name);
    return static_cast<size_t>(it - header.begin());
  }
};

inline Csv read_csv(const std::string& path) {
  Csv c;
  std::istringstream in(read_text(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      c.comments.push_back(line);
      continue;
    }
    std::vector<std::string> cells;
    std::string cell;
    std::istringstream l(line);
    while (std::getline(l, cell, ',')) cells.push_back(cell);
    if (c.header.empty()) {
      c.header = cells;
    } else {
      std::vector<double> row;
      for (auto& x : cells) row.push_back(std::stod(x));
      c.rows.push_back(row);
    }
  }
  return c;
}

inline bool has_comment(const Csv& c, const std::string& part) {
  for (auto& line : c.comments)
    if (contains(line, part)) return true;
  return false;
}

}  // namespace latent::testing
