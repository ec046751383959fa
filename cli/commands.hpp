// The `latent` subcommands. Each registers itself on the CLI11 app and returns
// the function to run when it is selected.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace latent::cli {

using Command = std::function<int()>;

Command add_check_command(CLI::App& app);
Command add_grad_command(CLI::App& app);
Command add_fit_command(CLI::App& app);
Command add_ir_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_sample_command(CLI::App& app);
Command add_summary_command(CLI::App& app);
Command add_generate_command(CLI::App& app);

}  // namespace latent::cli
