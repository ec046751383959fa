// One-off evaluation of IR values that depend on data only (transformed data,
// data checks): compiles a small function, runs it once, returns the outputs.
#pragma once

#include "codegen/codegen.hpp"
#include "codegen/eval_context.hpp"

#include <vector>

namespace latent::codegen {

// Values of `nodes` (each flattened in storage order, concatenated). `ctx`
// receives any failed check.
std::vector<double> evaluate_once(const ir::Graph& graph, const std::vector<ir::NodeP>& nodes,
                                  const std::vector<const double*>& inputs, EvalContext& ctx);

}  // namespace latent::codegen
