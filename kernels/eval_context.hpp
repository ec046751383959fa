// What generated code reports back while it runs: the first failed check
// (a reject, a violated argument domain, an index out of range) and prints.
// Check and Print nodes of the IR name a message of the program's message
// table by its index; the runtime callbacks (kernels/callbacks.cpp) look it up here.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <random>
#include <string>
#include <vector>

namespace latent {

// A message attached to a check or print, with the source position it comes from.
struct Message {
  std::string text;      // e.g. "normal_lpdf: scale parameter must be positive"
  std::string location;  // "file:line:col" of the statement
  std::vector<std::string> value_names;  // names for the reported values
};

struct EvalContext {
  const std::vector<Message>* messages = nullptr;  // the program's message table
  std::ostream* print_stream = nullptr;            // null: prints are discarded
  std::mt19937_64* rng = nullptr;                  // the `_rng` functions' engine (kernels/random.hpp)
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
