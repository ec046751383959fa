// Random numbers for generated code: the `_rng` functions of the language.
//
// A Random node of the IR (compiler/ir/ops.def) is compiled to a call of
// latent_rt_rng(ctx, sampler, params) per element. The sampler is a plain
// function registered by the distribution's library entry (stdlib/); its id is
// the registration order, which is fixed for a build. The engine is the
// caller's: EvalContext::rng, one per thread (or chain, or draw stream), seeded
// by the runtime, so results are reproducible for a seed.
#pragma once

#include <cstdint>
#include <random>

namespace latent {

using RandomEngine = std::mt19937_64;

// One draw given the distribution's parameters (as many as it has).
using Sampler = double (*)(RandomEngine& engine, const double* params);

// Registers a sampler; returns its id (0, 1, ...). Not thread-safe: registration
// happens once, when the library is built.
int64_t register_sampler(Sampler sampler);

// An engine for stream `stream` of the run seeded with `seed`: streams of one
// seed are independent (chains, threads, generated rows).
RandomEngine random_engine(uint64_t seed, uint64_t stream = 0);

}  // namespace latent

extern "C" {
// ctx is the EvalContext* the caller passed to the generated function; its rng
// (or, when it has none, a per-thread engine seeded with 0) makes the draw.
double latent_rt_rng(void* ctx, int64_t sampler, const double* params);
}
