#include "kernels/random.hpp"

#include "kernels/eval_context.hpp"

#include <vector>

namespace latent {

namespace {

std::vector<Sampler>& samplers() {
  static std::vector<Sampler> table;
  return table;
}

}  // namespace

int64_t register_sampler(Sampler sampler) {
  samplers().push_back(sampler);
  return static_cast<int64_t>(samplers().size()) - 1;
}

RandomEngine random_engine(uint64_t seed, uint64_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(stream),
                    static_cast<uint32_t>(stream >> 32), 0x6c617465u /* "late" */};
  return RandomEngine(seq);
}

}  // namespace latent

extern "C" double latent_rt_rng(void* ctx, int64_t sampler, const double* params) {
  auto* c = static_cast<latent::EvalContext*>(ctx);
  thread_local latent::RandomEngine fallback = latent::random_engine(0);
  latent::RandomEngine& engine = c && c->rng ? *c->rng : fallback;
  return latent::samplers().at(static_cast<size_t>(sampler))(engine, params);
}
