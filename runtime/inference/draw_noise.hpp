// Standard normal noise for the draws of a stochastic objective, keyed by
// (seed, stream, evaluation, draw): the noise of a draw does not depend on which
// process evaluates it or on the draws before it, so a job that splits the draws
// of every evaluation across its ranks sees the noise a single process sees.
#pragma once

#include <cstdint>

namespace latent {

// SplitMix64 (Steele, Lea and Flood, 2014): a counter-based generator whose
// state is one word, so a fresh one per draw costs nothing. A
// UniformRandomBitGenerator, for std::normal_distribution.
class SplitMix64 {
 public:
  using result_type = uint64_t;
  explicit SplitMix64(uint64_t state) : state_(state) {}
  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~result_type{0}; }
  result_type operator()() {
    state_ += kGamma;
    return finalize(state_);
  }
  // SplitMix64's output function: a bijection that scatters nearby inputs.
  static uint64_t finalize(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ull;

 private:
  uint64_t state_;
};

// Fills out[0 .. n) with N(0, 1) noise of draw `draw` of evaluation `evaluation`
// in stream `stream` of the run seeded with `seed`.
void draw_noise(uint64_t seed, uint64_t stream, uint64_t evaluation, uint64_t draw, double* out, int64_t n);

}  // namespace latent
