// Shared pieces of the `latent` subcommands: loading a model and its data,
// and turning user errors into one message and exit code 1.
#pragma once

#include "compiler/frontend/ast.hpp"
#include "data/data_file.hpp"
#include "data/json_data.hpp"
#include "runtime/model/bound_model.hpp"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace latent::cli {

struct LoadedModel {
  std::shared_ptr<const ast::Program> program;
  std::unique_ptr<BoundModel> model;
  // The same model keeping the constants `~` drops (load_model's with_constants):
  // CmdStan's log_p__ of ADVI draws.
  std::unique_ptr<BoundModel> with_constants;
  double compile_seconds = 0;  // source text to callable JIT function
  // Where compile_seconds went: reading the data, then each pipeline stage.
  std::vector<std::pair<std::string, double>> compile_stages;
};

// Parses and checks the model file.
std::shared_ptr<const ast::Program> load_program(const std::string& path);

// Parses, checks, binds the data (a CmdStan JSON file, or none; transformed
// data's `_rng` calls seeded with `seed`) and compiles the value-and-gradient
// function with the given Jacobian choice. print() writes to standard error.
LoadedModel load_model(const std::string& model_path, const std::string& data_path, bool jacobian,
                       uint64_t seed = 0, bool with_constants = false);

// Runs a subcommand body; prints user errors as one message and returns 1.
int run_guarded(const std::function<int()>& body);

// JSON number text that reads back exactly ("Infinity"/"NaN" as strings, as CmdStan JSON allows).
std::string json_number(double v);

}  // namespace latent::cli
