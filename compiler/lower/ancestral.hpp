// The model block run as a simulation draws parameters element by element
// (z[t] ~ ... in a loop). Its statements need not come in ancestral order (a
// density is a sum): a draw may read an element drawn by a later statement.
// This resolves the draws in the order of their dependences.
#pragma once

#include "compiler/lower/lowered_program.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace latent {

struct SimulatedParameter {
  std::string name;
  ir::NodeP leaf;   // its unconstrained Input (null: constrained, not read back)
  ir::NodeP value;  // after the simulation: placeholders where drawn, the leaf elsewhere
};

// Each parameter's value with every placeholder replaced by its draw, and each
// draw's reads of a parameter replaced by that parameter's simulated value.
// `pieces` are {placeholder, draw} in statement order.
std::map<std::string, AncestralDraw> resolve_ancestral(ir::Graph& g, const std::vector<SimulatedParameter>& parameters,
                                                       const std::vector<std::pair<ir::NodeP, ir::NodeP>>& pieces);

}  // namespace latent
