// latent generate MODEL --data D --draws draws.csv [-o out.csv] [--seed S]:
// standalone generated quantities (CmdStan's generate_quantities method): for
// each draw of the parameters in a CmdStan CSV (from `latent fit`, CmdStan or
// another sampler), the transformed parameters and generated quantities, their
// `_rng` calls drawing from one stream seeded by --seed.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "data/draws_csv.hpp"
#include "kernels/random.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/csv.hpp"

#include <iostream>
#include <memory>
#include <sstream>

namespace latent::cli {

namespace {

struct GenerateOptions {
  std::string model, data, draws, output;
  uint64_t seed = 0;
};

int run_generate(const GenerateOptions& o) {
  LoadedModel lm = load_model(o.model, o.data, true, o.seed);
  const BoundModel& m = *lm.model;
  DrawsTable draws = read_draws_csv(o.draws);
  if (draws.rows.empty()) throw UserError(o.draws + ": no draws (a CmdStan CSV: a header line, then one line per draw)");
  // Diagnostic columns of the draws (lp__, accept_stat__, ...) are kept as they are.
  std::vector<size_t> kept;
  for (size_t c = 0; c < draws.columns.size(); ++c)
    if (draws.columns[c].size() > 2 && draws.columns[c].compare(draws.columns[c].size() - 2, 2, "__") == 0)
      kept.push_back(c);
  std::vector<std::string> names = m.output_names();
  size_t parameter_columns = 0;
  for (const ParameterInfo& p : m.parameters()) parameter_columns += static_cast<size_t>(p.size());

  std::ostringstream csv;
  csv << "# latent generated quantities\n# model = " << o.model << "\n# data = " << o.data << "\n# draws = " << o.draws
      << "\n# seed = " << o.seed << "\n";
  for (size_t c : kept) csv << draws.columns[c] << ",";
  for (size_t i = 0; i < names.size(); ++i) csv << (i ? "," : "") << names[i];
  csv << "\n";
  RandomEngine rng = random_engine(o.seed, 3);
  std::mt19937_64 unused;  // every parameter is given: no random initial values are drawn
  for (size_t r = 0; r < draws.rows.size(); ++r) {
    DataSet values(o.draws + " (draw " + std::to_string(r + 1) + ")");
    for (const ParameterInfo& p : m.parameters()) values.set(p.name, variable_in_row(draws, r, p.name, p.stan_dims));
    std::vector<double> theta = m.unconstrain(values, unused);
    EvalContext ctx;
    ctx.rng = &rng;
    std::vector<double> out = m.constrained_outputs(theta.data(), &ctx);
    if (ctx.failed)
      throw UserError(o.draws + ": draw " + std::to_string(r + 1) + ": " + ctx.failure_text());
    for (size_t c : kept) csv << format_double(draws.rows[r][c]) << ",";
    for (size_t i = 0; i < out.size(); ++i) {
      // The parameters as given (not recomputed through the transforms).
      double v = out[i];
      if (i < parameter_columns) v = draws.rows[r][static_cast<size_t>(draws.column(names[i]))];
      csv << (i ? "," : "") << format_double(v);
    }
    csv << "\n";
  }
  if (o.output.empty()) {
    std::cout << csv.str();
    if (!std::cout.flush()) throw UserError("cannot write the output to standard output");
  } else {
    write_file_atomically(o.output, csv.str());
  }
  return 0;
}

}  // namespace

Command add_generate_command(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  auto* sub = app.add_subcommand("generate", "Generated quantities for each draw of a CmdStan CSV (CmdStan's "
                                             "generate_quantities)");
  sub->add_option("model", o->model, "Model file")->required();
  sub->add_option("--data", o->data, "Data file (CmdStan JSON or R dump, .data.R)");
  sub->add_option("--draws", o->draws, "Draws of the parameters: a CmdStan CSV (e.g. from latent fit)")->required();
  sub->add_option("--output,-o", o->output, "CSV file to write (default: standard output)");
  sub->add_option("--seed", o->seed, "Seed of the _rng calls (and of transformed data's)");
  return [o] { return run_generate(*o); };
}

}  // namespace latent::cli
