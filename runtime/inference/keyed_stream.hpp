// A random stream named by a few integers (a seed, a step, a row): the draws
// of one row of one step are the same whichever thread or process makes them,
// and a run resumed at step t draws what the uninterrupted run drew.
// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", 2014): the keys are mixed into the starting state, the stream
// advances by the golden-ratio increment and each output is mixed again.
// A UniformRandomBitGenerator, for std::normal_distribution and the like.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>

namespace latent {

class KeyedStream {
 public:
  using result_type = uint64_t;
  KeyedStream(std::initializer_list<uint64_t> keys) {
    for (uint64_t k : keys) state_ = mix(state_ ^ mix(k + kGamma));
  }
  uint64_t operator()() { return mix(state_ += kGamma); }
  static constexpr uint64_t min() { return 0; }
  static constexpr uint64_t max() { return std::numeric_limits<uint64_t>::max(); }

 private:
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;
  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_ = 0x6a09e667f3bcc909ULL;
};

}  // namespace latent
