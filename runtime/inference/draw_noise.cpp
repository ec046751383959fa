#include "runtime/inference/draw_noise.hpp"

#include "runtime/inference/keyed_stream.hpp"

#include <random>

namespace latent {

void draw_noise(uint64_t seed, uint64_t stream, uint64_t evaluation, uint64_t draw, double* out, int64_t n) {
  KeyedStream bits{seed, stream, evaluation, draw};
  std::normal_distribution<double> normal;  // fresh: no value cached from another draw
  for (int64_t i = 0; i < n; ++i) out[i] = normal(bits);
}

}  // namespace latent
