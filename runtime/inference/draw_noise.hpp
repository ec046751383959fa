// Standard normal noise for the draws of a stochastic objective, keyed by
// (seed, stream, evaluation, draw): the noise of a draw does not depend on which
// process evaluates it or on the draws before it, so a job that splits the draws
// of every evaluation across its ranks sees the noise a single process sees.
#pragma once

#include <cstdint>

namespace latent {

// Fills out[0 .. n) with N(0, 1) noise of draw `draw` of evaluation `evaluation`
// in stream `stream` of the run seeded with `seed` (a KeyedStream of those keys).
void draw_noise(uint64_t seed, uint64_t stream, uint64_t evaluation, uint64_t draw, double* out, int64_t n);

}  // namespace latent
