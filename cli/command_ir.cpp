// latent ir MODEL --data D: print what the compiler builds, stage by stage.
#include "cli/commands.hpp"
#include "cli/common.hpp"

#include <iostream>
#include <memory>

namespace latent::cli {

Command add_ir_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto stage = std::make_shared<std::string>("all");
  auto* sub = app.add_subcommand("ir", "Print the IR of the log density, its gradient, and the LLVM IR");
  sub->add_option("model", *model, "Model file")->required();
  sub->add_option("--data", *data, "Data file (CmdStan JSON): shapes are specialised on it");
  sub->add_option("--stage", *stage, "ir | gradient | llvm | llvm-optimized | all")
      ->check(CLI::IsMember({"ir", "gradient", "llvm", "llvm-optimized", "all"}));
  return [model, data, stage] {
    LoadedModel lm = load_model(*model, *data, true, {.keep_llvm_text = true});
    const BoundModel& m = *lm.model;
    bool all = *stage == "all";
    if (all || *stage == "ir") std::cout << "; log density (with log-Jacobian)\n" << m.ir_text() << "\n";
    if (all || *stage == "gradient") std::cout << "; gradient (symbolic reverse mode)\n" << m.gradient_ir_text() << "\n";
    if (all || *stage == "llvm") std::cout << "; LLVM IR before optimisation\n" << m.llvm_text(false) << "\n";
    if (all || *stage == "llvm-optimized") std::cout << "; LLVM IR after optimisation\n" << m.llvm_text(true) << "\n";
    return 0;
  };
}

}  // namespace latent::cli
