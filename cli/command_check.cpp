// latent check MODEL: parse and type-check a model.
#include "cli/commands.hpp"
#include "cli/common.hpp"

#include <iostream>
#include <memory>

namespace latent::cli {

Command add_check_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("check", "Parse and check a model file (syntax, names, types, block rules)");
  sub->add_option("model", *model, "Model file (.lat or .stan)")->required();
  return [model] {
    load_program(*model);
    std::cout << *model << ": ok\n";
    return 0;
  };
}

}  // namespace latent::cli
