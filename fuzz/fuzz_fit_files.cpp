// Fuzz target: the fit files that `eval` and `sample` read back — ADVI's JSON
// (variational parameters) and SVI's fit file, the latter checked against the
// layout of a small model with a network and an automatically guided parameter.
#include "common/source.hpp"
#include "compiler/driver/pipeline.hpp"
#include "data/data_source.hpp"
#include "fuzz/fuzz_common.hpp"
#include "runtime/model/svi_model.hpp"
#include "runtime/output/svi_fit.hpp"
#include "runtime/output/variational_fit.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace {

latent::SviModel& small_model() {
  static latent::SviModel* model = [] {
    auto source = std::make_shared<latent::SourceFile>();
    source->path = "fuzz_fit.lat";
    source->text =
        "data { int<plate> N; matrix[N, 2] x; }\n"
        "network { dense h(2, 1); }\n"
        "parameters { real mu; }\n"
        "model { mu ~ normal(0, 1); target += sum(h(x)); }\n";
    auto program = latent::driver::parse(source);
    auto data = std::make_shared<latent::JsonDataSource>(
        latent::DataSet::from_json_string(R"({"N": 2, "x": [[1, 2], [3, 4]]})", "fuzz_fit.json"));
    return new latent::SviModel(program, data);
  }();
  return *model;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (int64_t n : {0, 1, 2, 3}) {
    latent::fuzz::expect_user_errors_only([&] {
      latent::Family family;
      latent::parse_variational_fit(text, "fuzz.json", n, &family);
    });
  }
  latent::fuzz::expect_user_errors_only([&] { latent::parse_svi_fit_header(text, "fuzz.fit"); });
  latent::fuzz::expect_user_errors_only(
      [&] { latent::parse_svi_fit(text, "fuzz.fit", small_model().reference()); });
  return 0;
}
