// Fuzz target: a model's text -> parse (ANTLR) -> AST -> check. Every input must
// be accepted or rejected with diagnostics.
#include "compiler/driver/pipeline.hpp"
#include "fuzz/fuzz_common.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto source = std::make_shared<latent::SourceFile>();
  source->path = "fuzz.lat";
  source->text.assign(reinterpret_cast<const char*>(data), size);
  latent::fuzz::expect_user_errors_only([&] { latent::driver::parse(source); });
  return 0;
}
