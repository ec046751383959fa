// latent summary FILE...: the posterior summary of CmdStan sampler CSV files
// (one per chain): a table, or CSV / JSON for programs; a warning line on
// standard error for each problem (R-hat, ESS, divergences, tree depth, E-BFMI).
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/summary_output.hpp"
#include "runtime/inference/summary.hpp"
#include "runtime/output/stan_csv.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace latent::cli {

namespace {

// The files of a run written with `-o path`: path itself, or path_1, path_2, ...
std::vector<std::string> chain_files(const std::string& path) {
  if (std::filesystem::exists(path)) return {path};
  std::vector<std::string> files;
  for (int k = 0;; ++k) {
    std::string candidate = chain_output_path(path, k, 2);
    if (!std::filesystem::exists(candidate)) break;
    files.push_back(candidate);
  }
  if (files.empty()) throw UserError("cannot read '" + path + "': no such file");
  return files;
}

}  // namespace

Command add_summary_command(CLI::App& app) {
  auto files = std::make_shared<std::vector<std::string>>();
  auto csv = std::make_shared<bool>(false), json = std::make_shared<bool>(false);
  auto* sub = app.add_subcommand("summary", "Summarise MCMC draws: CmdStan CSV files, one per chain (mean, MCSE, sd, "
                                            "quantiles, R-hat, bulk and tail ESS, divergences)");
  sub->add_option("files", *files, "CSV files of `latent fit --method nuts` or CmdStan (draws.csv stands for "
                                   "draws_1.csv, draws_2.csv, ... when it does not exist)")
      ->required();
  auto* csv_flag = sub->add_flag("--csv", *csv, "Print CSV (posterior's column names) instead of a table");
  sub->add_flag("--json", *json, "Print JSON instead of a table")->excludes(csv_flag);
  return [files, csv, json] {
    std::vector<ChainTable> chains;
    for (const std::string& f : *files)
      for (const std::string& path : chain_files(f)) chains.push_back(read_stan_csv(path));
    PosteriorSummary s = summarize(chains);
    std::cout << (*csv ? summary_csv(s) : *json ? summary_json(s) : summary_table(s)) << std::flush;
    std::cerr << summary_warnings(s);
    return 0;
  };
}

}  // namespace latent::cli
