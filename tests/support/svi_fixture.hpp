// Shared by the tests of deep generative models (test_svi, test_sample):
// programs from text, JSON data as a data source.
#pragma once

#include "tests/support/model_fixture.hpp"

#include "compiler/frontend/frontend.hpp"
#include "data/data_source.hpp"

#include <memory>
#include <string>

namespace latent::testing {

// Parses and checks `text` (named "test.lat" in messages).
inline std::shared_ptr<const ast::Program> program(const std::string& text) {
  auto src = std::make_shared<SourceFile>(SourceFile{"test.lat", text});
  std::shared_ptr<ast::Program> p = parse_program(src);
  check_program(*p);
  return p;
}

inline std::shared_ptr<const DataSource> json_source(const std::string& json) {
  return std::make_shared<JsonDataSource>(DataSet::from_json_string(json, "data.json"));
}

}  // namespace latent::testing
