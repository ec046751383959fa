// What generated code reports back while it runs: the first failed check
// (a reject, a violated argument domain, an index out of range) and prints.
#pragma once

#include "ir/ir.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace latent {

struct EvalContext {
  const ir::Graph* graph = nullptr;  // owns the message table
  std::ostream* print_stream = nullptr;  // null: prints are discarded
  bool failed = false;
  int64_t message = -1;
  std::vector<double> values;

  void reset() {
    failed = false;
    message = -1;
    values.clear();
  }
  // "file:line:col: normal_lpdf: scale parameter must be positive (scale parameter = -1)"
  std::string failure_text() const;
};

// Print messages keep the literal pieces of print(...) separated by this
// character, one gap per printed value.
inline constexpr char kPrintValueSlot = '\x1f';

}  // namespace latent
