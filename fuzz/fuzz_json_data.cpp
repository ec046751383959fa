// Fuzz target: a CmdStan JSON data file -> the SAX reader -> each field checked
// against declarations of its own shape (int, bounded real, simplex, Cholesky
// factor), as the data block's checks do.
#include "data/check_data.hpp"
#include "data/json_data.hpp"
#include "fuzz/fuzz_common.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using latent::DeclaredShape;
  const std::string text(reinterpret_cast<const char*>(data), size);
  latent::fuzz::expect_user_errors_only([&] {
    latent::DataSet set = latent::DataSet::from_json_string(text, "fuzz.json");
    for (const std::string& name : set.names()) {
      const latent::DataValue& v = *set.find(name);
      for (int kind = 0; kind < 7; ++kind) {
        DeclaredShape shape;
        shape.name = name;
        shape.dims = v.dims;
        shape.is_int = kind == 0;
        if (kind == 1) shape.lower = 0, shape.upper = 1;
        if (kind == 2) shape.structure = DeclaredShape::Structure::Simplex;
        if (kind == 3) {
          if (v.dims.size() < 2 || v.dims[v.dims.size() - 1] != v.dims[v.dims.size() - 2]) continue;
          shape.structure = DeclaredShape::Structure::CholeskyFactorCorr;
        }
        if (kind == 4) shape.is_matrix_last2 = v.dims.size() >= 2;
        if (kind == 5) shape.structure = DeclaredShape::Structure::UnitVector;
        if (kind == 6) shape.structure = DeclaredShape::Structure::SumToZero;
        latent::fuzz::expect_user_errors_only([&] { latent::check_and_flatten(set, shape); });
      }
    }
  });
  return 0;
}
