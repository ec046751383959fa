// The sequences of a FASTA file that `latent sample --fasta` wrote: records
// named >sample_1, >sample_2, ... in order, one line of letters each. A record
// out of order or without its line fails the test.
#pragma once

#include <boost/test/unit_test.hpp>

#include <sstream>
#include <string>
#include <vector>

namespace latent::testing {

inline std::vector<std::string> fasta_sequences(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> sequences;
  while (std::getline(lines, line)) {
    BOOST_REQUIRE_EQUAL(line, ">sample_" + std::to_string(sequences.size() + 1));
    BOOST_REQUIRE(std::getline(lines, line));
    sequences.push_back(line);
  }
  return sequences;
}

}  // namespace latent::testing
