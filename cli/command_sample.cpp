// latent sample MODEL --fit F: generating from a model fitted by SVI: new data
// from the prior (--n), reconstructions of data rows (--reconstruct) and
// interpolations between two rows' codes (--interpolate), as a PNG grid of
// images and/or CSV. The logic is runtime/inference/generate.hpp.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "data/data_source.hpp"
#include "runtime/inference/generate.hpp"
#include "runtime/output/svi_fit.hpp"

#include <filesystem>
#include <iostream>
#include <memory>

namespace latent::cli {

namespace {

struct SampleOptions {
  std::string model, fit, data, reconstruct, interpolate, png, csv, fasta, alphabet, field, globals;
  int64_t n = 0;
  int64_t steps = 10;
  int columns = 0;
  uint64_t seed = 0;
  bool quiet = false, mean = false;
};

int run_sample(const SampleOptions& o) {
  int modes = (o.n > 0) + !o.reconstruct.empty() + !o.interpolate.empty();
  if (modes > 1) throw UserError("sample: give one of --n, --reconstruct and --interpolate");
  if (o.png.empty() && o.csv.empty() && o.fasta.empty())
    throw UserError("sample: nothing to write: give --png FILE (an image grid), --csv FILE (the values) and/or "
                    "--fasta FILE (sequences)");
  if (!o.fasta.empty() && o.alphabet.empty())
    throw UserError("sample: --fasta needs --alphabet (the letters, in the order of the one-hot columns, e.g. ACGT)");
  auto program = load_program(o.model);
  SviFit header = read_svi_fit_header(o.fit);
  const std::string data_spec = o.data.empty() ? header.data : o.data;
  std::shared_ptr<const DataSource> data;
  std::unique_ptr<Generator> generator;
  try {
    data = open_data_source(data_spec);
    generator = std::make_unique<Generator>(program, data);
    generator->read_fit(o.fit);
  } catch (const UserError& e) {
    // Most likely the fit of another model: say which one it was made with.
    std::error_code ec;
    bool same = std::filesystem::equivalent(header.model, o.model, ec);
    if (ec) same = std::filesystem::path(header.model).filename() == std::filesystem::path(o.model).filename();
    if (same) throw;
    std::string msg = e.what();
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    throw UserError(msg + "\n(" + o.fit + " was fitted with the model " + header.model + " on the data " + header.data +
                    ")");
  }
  Generator& gen = *generator;
  gen.set_output(o.mean ? Output::Means : Output::Draws);
  gen.set_seed(o.seed);

  Globals globals = o.globals == "fit" ? Globals::Fit : o.globals == "prior" ? Globals::Prior : Globals::Default;
  Generated out;
  Generated originals;
  bool with_originals = false;
  int columns = o.columns;
  std::string what;
  if (!o.reconstruct.empty()) {
    std::vector<DataRow> rows = parse_rows(o.reconstruct, data_spec, data, gen.plate());
    out = gen.reconstruct(rows);
    originals = gen.originals(rows);
    with_originals = true;
    what = "reconstructions of " + std::to_string(rows.size()) + " rows";
  } else if (!o.interpolate.empty()) {
    std::vector<DataRow> rows = parse_rows(o.interpolate, data_spec, data, gen.plate());
    if (rows.size() != 2)
      throw UserError("sample: --interpolate needs exactly two rows (e.g. test:0,test:1), got " +
                      std::to_string(rows.size()));
    out = gen.interpolate(rows[0], rows[1], o.steps);
    if (columns <= 0) columns = static_cast<int>(o.steps);
    what = std::to_string(o.steps) + " interpolation steps";
  } else {
    out = gen.prior(o.n > 0 ? o.n : 64, o.seed, globals);
    what = std::to_string(out.rows) + " rows from the prior";
  }
  if (columns <= 0) columns = 8;

  if (!o.png.empty()) {
    size_t field = 0;
    std::pair<int, int> hw;
    if (!o.field.empty()) {
      while (field < out.fields.size() && out.fields[field].name != o.field) ++field;
      if (field == out.fields.size()) {
        std::string names;
        for (auto& f : out.fields) names += (names.empty() ? "" : ", ") + f.name;
        throw UserError("sample: --field " + o.field + ": the model generates no field of that name (it generates " +
                        names + ")");
      }
      hw = image_shape(gen.data(), out.fields[field]);
    } else {
      // The first generated field that can be shown as images (else the first field's message).
      field = out.fields.size();
      for (size_t f = 0; f < out.fields.size() && field == out.fields.size(); ++f) {
        try {
          hw = image_shape(gen.data(), out.fields[f]);
          field = f;
        } catch (const UserError&) {
        }
      }
      if (field == out.fields.size()) {
        field = 0;
        hw = image_shape(gen.data(), out.fields[0]);
      }
    }
    write_generated_png(o.png, out, field, hw.first, hw.second, columns, with_originals ? &originals : nullptr);
    if (!o.quiet)
      std::cerr << "sample: " << what << " of '" << out.fields[field].name << "' as " << hw.first << " x "
                << hw.second << " images" << (with_originals ? " (originals above their reconstructions)" : "")
                << " -> " << o.png << "\n";
  }
  if (!o.csv.empty()) {
    write_generated_csv(o.csv, out);
    if (!o.quiet) std::cerr << "sample: " << what << " -> " << o.csv << "\n";
  }
  if (!o.fasta.empty()) {
    size_t field = 0;
    while (!o.field.empty() && field < out.fields.size() && out.fields[field].name != o.field) ++field;
    if (field == out.fields.size()) throw UserError("sample: --field " + o.field + ": the model generates no field of that name");
    write_generated_fasta(o.fasta, out, field, o.alphabet);
    if (!o.quiet) std::cerr << "sample: " << what << " of '" << out.fields[field].name << "' as sequences -> " << o.fasta << "\n";
  }
  return 0;
}

}  // namespace

Command add_sample_command(CLI::App& app) {
  auto o = std::make_shared<SampleOptions>();
  auto* sub = app.add_subcommand(
      "sample",
      "Generate from a model fitted by SVI (latent fit --method svi --output F): new data from the prior, "
      "reconstructions or interpolations; draws of the observed variables (or with --mean their distributions' "
      "means), as a PNG grid and/or CSV");
  sub->add_option("model", o->model, "Model file (the one the fit was made with)")->required();
  sub->add_option("--fit", o->fit, "Fit file written by latent fit --method svi --output F")->required();
  sub->add_option("--data", o->data,
                  "Data source for shapes and rows (default: the one the fit was made on, recorded in the fit file)");
  sub->add_option("--n", o->n,
                  "Generate N rows from the prior: per-datum latents drawn from their priors, then the data "
                  "(the default, with N = 64, when neither --reconstruct nor --interpolate is given)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--reconstruct", o->reconstruct,
                  "Rows to reconstruct (x -> mean of q(z|x) -> data drawn given it): A-B or train:A-B (rows of the fit's "
                  "data, 0-based, inclusive), test:A-B (its test split: fashion-mnist:test), several separated by "
                  "commas. In the PNG, rows of originals alternate with rows of their reconstructions");
  sub->add_option("--interpolate", o->interpolate,
                  "Two rows (e.g. test:0,test:1): decode the straight line between their codes (means of q) in --steps "
                  "steps, one grid row");
  sub->add_option("--steps", o->steps, "Interpolation steps, ends included")
      ->check(CLI::Range(int64_t{2}, int64_t{100000}))
      ->capture_default_str();
  sub->add_option("--png", o->png, "Write the generated images as one PNG grid (image size from the data's H and W "
                                   "fields, else square)");
  sub->add_option("--csv", o->csv, "Write the generated values as CSV: one row per data point, columns name.1, name.2, ...");
  sub->add_option("--fasta", o->fasta,
                  "Write the generated sequences as FASTA: rows of one-hot letters, category-major (the column of letter "
                  "k at position l is (k - 1) * L + l, as to_matrix(x, N * L, K) reads them); needs --alphabet");
  sub->add_option("--alphabet", o->alphabet, "--fasta: the letters, in the order of the one-hot categories (e.g. ACGT)");
  sub->add_option("--columns", o->columns, "Images per grid row (default 8; --steps for interpolations)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--field", o->field, "The generated variable to show in the PNG (default: the first that is an image)");
  sub->add_option("--globals", o->globals,
                  "--n: global (not per-datum) parameters at their fitted guide means (fit) or drawn from their priors "
                  "(prior); default: fit, or prior for a model without a plate")
      ->check(CLI::IsMember({"fit", "prior"}));
  sub->add_flag("--mean", o->mean,
                "Write the mean of each observed variable's distribution instead of a draw (e.g. pixel intensities "
                "instead of binary pixels)");
  sub->add_option("--seed", o->seed, "Random seed (every draw)");
  sub->add_flag("--quiet,-q", o->quiet, "Print nothing on success");
  return [o] { return run_sample(*o); };
}

}  // namespace latent::cli
