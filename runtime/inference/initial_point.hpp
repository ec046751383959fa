// Stan's start of an optimisation or a fit: the user's initial values, or up to
// 100 random points (uniform(-2, 2) on the unconstrained scale), until the log
// density and its gradient are finite. Used by the CLI and the C++ API alike.
#pragma once

#include "data/json_data.hpp"
#include "runtime/model/bound_model.hpp"

#include <random>
#include <vector>

namespace latent {

// `init` may be null (random points). Throws UserError with the diagnosis of
// the user's point, or of the first random point, when none is finite. Random
// points are uniform(-radius, radius) (CmdStan's init=R; 0 is the single point 0).
std::vector<double> find_initial_point(const BoundModel& model, const DataSet* init, bool jacobian,
                                       std::mt19937_64& rng, double radius = 2);

}  // namespace latent
