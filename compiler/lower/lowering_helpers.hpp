// Small helpers shared by the lowerer's files (lowerer.cpp, lower_expressions.cpp,
// lower_statements.cpp, lower_loops.cpp).
#pragma once

#include "compiler/ir/ir.hpp"
#include "compiler/lower/lowerer.hpp"

#include <string>
#include <vector>

namespace latent::lowering {

// Iterations of unrolled loops, in all, before lowering gives up.
inline constexpr int kMaxUnrolledIterations = 200000;
// The longest counted while loop run as a for loop.
inline constexpr int64_t kMaxWhileTrips = 100000000;
// What unrolled bodies may add to the compiled program: run-time operations, and
// the elements they write. The posteriordb programs that compile in under half a
// second stay below 11000 and 6M; straight-line code of 20000 operations and its
// adjoint take LLVM ~10 s (register allocation and scheduling of one long block).
inline constexpr int64_t kMaxUnrolledOperations = 20000;
inline constexpr int64_t kMaxUnrolledElements = int64_t{1} << 24;
// Loops with carried state this short are unrolled (straight-line code, no
// history buffer); longer ones become a Scan.
inline constexpr int64_t kMinScanIterations = 8;
// Literals of at most this many containers are stacked slice by slice (each
// element read once per output element); longer ones are packed element-wise.
inline constexpr size_t kMaxStackedElements = 16;

// Calls of user-defined functions nested inside each other (a recursion must end
// on values known when the data is read), and inlined in all.
inline constexpr int kMaxCallDepth = 1000;
inline constexpr uintptr_t kMaxCallStackBytes = 3u << 20;  // of the usual 8 MiB stack
inline constexpr int64_t kMaxInlinedCalls = 200000;

// "vector[3]", "matrix[2,4]": a value's type with its sizes, for messages.
inline std::string dims_text(const Type& t, ir::NodeP n) {
  std::string s = t.str();
  auto d = Lowerer::stan_dims_of(t, n->dims);
  if (d.empty()) return s;
  s += "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// IR axis of each remaining Stan dimension of a value of type t and IR rank r.
inline std::vector<int> stan_axes(const Type& t, size_t rank) {
  std::vector<int> axes;
  for (int p = 0; p < t.array_dims; ++p) axes.push_back(static_cast<int>(rank) - 1 - p);
  for (size_t e = 0; e + static_cast<size_t>(t.array_dims) < rank; ++e) axes.push_back(static_cast<int>(e));
  return axes;
}

}  // namespace latent::lowering
