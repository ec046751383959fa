#include "runtime/inference/draw_noise.hpp"

#include <random>

namespace latent {

void draw_noise(uint64_t seed, uint64_t stream, uint64_t evaluation, uint64_t draw, double* out, int64_t n) {
  // Each key is folded in through the finalizer, so that keys differing in one
  // bit of any part start far-apart streams.
  uint64_t key = SplitMix64::finalize(seed + SplitMix64::kGamma);
  for (uint64_t part : {stream, evaluation, draw}) key = SplitMix64::finalize(key ^ (part + SplitMix64::kGamma));
  SplitMix64 bits(key);
  std::normal_distribution<double> normal;  // fresh: no value cached from another draw
  for (int64_t i = 0; i < n; ++i) out[i] = normal(bits);
}

}  // namespace latent
