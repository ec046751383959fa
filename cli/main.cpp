// latent: compile and run probabilistic models from the command line.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "runtime/distributed/job.hpp"

#include <malloc.h>

#include <iostream>
#include <map>

int main(int argc, char** argv) {
  latent::distributed::JobSession job(argc, argv);  // MPI, when mpirun or srun started this process
  // Large buffers (a batch's tensors, gradients of network weights) are freed and
  // reallocated every step: keep them in the heap instead of mapping and
  // unmapping pages each time (page faults are expensive in virtual machines).
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  CLI::App app{"latent: a compiler for probabilistic models (Stan language and extensions)", "latent"};
  app.require_subcommand(1);
  std::map<CLI::App*, latent::cli::Command> commands;
  auto add = [&](latent::cli::Command (*f)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    latent::cli::Command c = f(app);
    commands[app.get_subcommands({})[before]] = c;
  };
  add(latent::cli::add_check_command);
  add(latent::cli::add_grad_command);
  add(latent::cli::add_fit_command);
  add(latent::cli::add_ir_command);
  add(latent::cli::add_eval_command);
  add(latent::cli::add_export_command);
  add(latent::cli::add_sample_command);
  add(latent::cli::add_summary_command);
  add(latent::cli::add_generate_command);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every command-line error is a user error: exit 1.
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << latent::cli::command_line_error(app, e, argc, argv) << "\n";
    return 1;
  }
  for (auto& [sub, run] : commands) {
    if (!sub->parsed()) continue;
    // Under mpirun every rank would run the whole command and write the same outputs.
    if (latent::distributed::job().distributed() && sub->get_name() != "fit")
      return latent::cli::run_guarded([name = sub->get_name()]() -> int {
        throw latent::UserError("latent " + name + " runs on one process: start it without mpirun or srun "
                                "(latent fit --method svi, advi, fullrank or nuts runs across processes)");
      });
    return latent::cli::run_guarded(run);
  }
  return 1;
}
