// Fuzz target: the whole pipeline on a model and its data — parse, check, bind
// the data and lower, build the log density, differentiate, generate LLVM IR,
// optimise and JIT-compile, then evaluate the log density and gradient once at a
// random point.
//
// The input is the model's text, optionally followed by a line "//@data" and the
// data as JSON (the seed corpus pairs each example with its data). No on-disk
// cache: every input is compiled.
#include "compiler/driver/pipeline.hpp"
#include "data/json_data.hpp"
#include "fuzz/fuzz_common.hpp"
#include "runtime/model/bound_model.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("LATENT_CACHE", "off", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  if (size > 64 * 1024) return 0;  // larger programs only slow the search down
  const std::string input(reinterpret_cast<const char*>(bytes), size);
  const std::string separator = "\n//@data\n";
  const size_t split = input.find(separator);
  auto source = std::make_shared<latent::SourceFile>();
  source->path = "fuzz.lat";
  source->text = input.substr(0, split);
  const std::string json = split == std::string::npos ? "{}" : input.substr(split + separator.size());
  latent::fuzz::expect_user_errors_only([&] {
    auto program = latent::driver::parse(source);
    latent::DataSet data = latent::DataSet::from_json_string(json, "fuzz.json");
    latent::BoundModel model(program, data);
    model.compile(true);
    std::mt19937_64 rng(1);
    std::vector<double> theta = model.random_point(rng);
    std::vector<double> gradient(theta.size());
    model.log_density(theta.data(), gradient.data(), true);
  });
  return 0;
}
