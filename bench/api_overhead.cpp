// The cost of one log_prob_grad call through the public API (latent::Posterior)
// against the same compiled function called through the internal BoundModel
// (a direct call of the JIT function plus its workspace handling).
// Usage: api_overhead MODEL.lat DATA.json  -> median ns per call for each, and the ratio.
#include <latent/latent.hpp>

#include "compiler/frontend/frontend.hpp"
#include "data/json_data.hpp"
#include "runtime/model/bound_model.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <vector>

namespace {

double median_ns(const std::function<void()>& call) {
  for (int i = 0; i < 1000; ++i) call();
  std::vector<double> per_call;
  for (int batch = 0; batch < 200; ++batch) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i) call();
    per_call.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / 1000);
  }
  std::nth_element(per_call.begin(), per_call.begin() + 100, per_call.end());
  return per_call[100];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: api_overhead MODEL.lat DATA.json\n");
    return 1;
  }
  latent::Posterior post = latent::compile_file(argv[1]).bind(latent::Data::from_json_file(argv[2]));
  auto src = latent::read_source_file(argv[1]);
  std::shared_ptr<latent::ast::Program> program = latent::parse_program(src);
  latent::check_program(*program);
  latent::BoundModel direct(program, latent::DataSet::from_json_file(argv[2]));
  std::vector<double> theta = post.initial_point(1), grad(theta.size());
  double api = median_ns([&] { post.log_prob_grad(theta.data(), grad.data()); });
  double internal = median_ns([&] { direct.log_density(theta.data(), grad.data(), true); });
  std::printf("%-40s %8.1f ns\n%-40s %8.1f ns\nratio %.2f\n", "public API (Posterior::log_prob_grad):", api,
              "internal (BoundModel::log_density):", internal, api / internal);
  return 0;
}
