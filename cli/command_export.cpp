// latent export MODEL --data D -o model.o: ahead-of-time compilation of the log
// density and gradient to an object file plus a C header (model.h beside it).
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "runtime/output/atomic_file.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace latent::cli {

Command add_export_command(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto data = std::make_shared<std::string>();
  auto output = std::make_shared<std::string>();
  auto name = std::make_shared<std::string>("model");
  auto* sub = app.add_subcommand("export", "Compile the log density and gradient ahead of time: object file + C header");
  sub->add_option("model", *model, "Model file")->required();
  sub->add_option("--data,--data-shapes", *data, "Data file (CmdStan JSON or R dump): shapes and values are compiled in");
  sub->add_option("--output,-o", *output, "Object file to write (the header is written beside it, with .h)")->required();
  sub->add_option("--name", *name, "C prefix of the exported symbols")->capture_default_str();
  return [model, data, output, name] {
    LoadedModel lm = load_model(*model, *data, true);
    BoundModel::Exported e = lm.model->export_object(*name);
    std::filesystem::path header = std::filesystem::path(*output).replace_extension(".h");
    write_file_atomically(*output, e.object);
    write_file_atomically(header.string(), e.header);
    std::cerr << "latent: wrote " << *output << " and " << header.string() << "\n";
    return 0;
  };
}

}  // namespace latent::cli
