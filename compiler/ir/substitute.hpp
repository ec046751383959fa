// A mutator over the IR: rebuilds a DAG with some nodes replaced, through the
// Graph's constructors (so the result is simplified and hash-consed again).
// Used to build variational objectives from the log density: the parameter
// leaves are replaced by draws from the approximation.
#pragma once

#include "compiler/ir/ir.hpp"

#include <unordered_map>

namespace latent::ir {

// `root` with every node that is a key of `replace` replaced by its value.
NodeP substitute(Graph& g, NodeP root, const std::unordered_map<NodeP, NodeP>& replace);

// The same node kind as `n` with new arguments.
NodeP rebuild(Graph& g, NodeP n, const std::vector<NodeP>& args);

}  // namespace latent::ir
