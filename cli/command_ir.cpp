// latent ir MODEL [--data D] [--stage S] [--method M]: print what the compiler
// builds, stage by stage (compiler/driver/pipeline.hpp): the checked AST, the
// lowered program, the objective of the method, its gradient, and the LLVM IR
// before and after optimisation.
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/options.hpp"
#include "compiler/driver/pipeline.hpp"
#include "data/data_source.hpp"
#include "runtime/model/svi_model.hpp"

#include <iostream>
#include <memory>

namespace latent::cli {

namespace {

struct IrOptions {
  std::string model, data, stage = "all", method, step = "decoder", objective = "elbo", kl = "mc", precision = "mixed";
  bool no_jacobian = false, evaluation = false, draw_globals = false;
  int64_t draws = 1, batch = 128;
};

bool has_networks(const ast::Program& p) {
  return p.find(ast::BlockKind::Network) || p.find(ast::BlockKind::Guide);
}

// The method's objective and the data it is lowered with.
driver::Method method_of(const IrOptions& o, const std::string& method) {
  if (method == "map") return driver::Method::log_density(!o.no_jacobian);
  if (method == "outputs") return driver::Method::outputs();
  if (method == "advi" || method == "fullrank")
    return driver::Method::variational(method == "advi" ? Family::MeanField : Family::FullRank, o.draws,
                                       o.objective == "iwae");
  if (method == "svi") {
    SviOptions svi;
    svi.analytic_kl = o.kl == "analytic";
    svi.single_precision_products = o.precision == "mixed";  // as fit --method svi
    return driver::Method::stochastic_vi(svi, o.evaluation);
  }
  GenerationStep step = o.step == "prior"     ? GenerationStep::Prior
                        : o.step == "encoder" ? GenerationStep::Encoder
                        : o.step == "draw"    ? GenerationStep::Draw
                                              : GenerationStep::Decoder;
  return driver::Method::generate(step, o.draw_globals);
}

int run_ir(IrOptions o) {
  if (o.stage == "ir") o.stage = "objective";  // the name of this stage before the pipeline had stages
  std::shared_ptr<const ast::Program> program = load_program(o.model);
  auto wants = [&](driver::Stage s) { return o.stage == "all" || o.stage == driver::stage_name(s); };
  auto show = [&](driver::Stage s, const std::string& text) {
    std::cout << "; ---- stage " << driver::stage_name(s) << "\n" << text;
    if (!text.empty() && text.back() != '\n') std::cout << "\n";
  };
  if (wants(driver::Stage::Ast)) show(driver::Stage::Ast, driver::ast_text(*program));
  if (o.stage == "ast") return 0;

  const std::string method = !o.method.empty() ? o.method : has_networks(*program) ? "svi" : "map";
  LoweredProgram lowered;
  if (method == "svi" || method == "sample") {
    // Networks, guides and plates: lowered for one batch, as `fit --method svi` does.
    if (o.data.empty()) throw UserError("ir: --method " + method + " needs --data (JSON, an IDX file or fashion-mnist)");
    SviModel model(program, open_data_source(o.data));
    lowered = model.lower(std::min(o.batch, model.num_rows()));
  } else {
    DataSet data = o.data.empty() ? DataSet("<no data file>") : read_data_file(o.data);
    lowered = driver::lower(without_networks(*program), data);
  }
  if (wants(driver::Stage::Lowered)) show(driver::Stage::Lowered, driver::lowered_text(lowered));
  if (o.stage == "lowered") return 0;

  driver::Method m = method_of(o, method);
  driver::StageOptions capture;
  for (size_t s = static_cast<size_t>(driver::Stage::Objective); s < capture.capture.size(); ++s)
    capture.capture[s] = wants(static_cast<driver::Stage>(s));
  driver::Compiled compiled = driver::compile(lowered, m, capture);
  for (size_t s = static_cast<size_t>(driver::Stage::Objective); s < capture.capture.size(); ++s) {
    if (!capture.capture[s]) continue;
    std::string text = compiled.stage_text[s];
    if (s == static_cast<size_t>(driver::Stage::Objective)) text = "; " + compiled.objective.description + "\n" + text;
    show(static_cast<driver::Stage>(s), text);
  }
  return 0;
}

}  // namespace

Command add_ir_command(CLI::App& app) {
  auto o = std::make_shared<IrOptions>();
  auto* sub = app.add_subcommand("ir", "Print what the compiler builds, stage by stage: the checked AST, the lowered "
                                       "program, the objective, its gradient and the LLVM IR");
  sub->add_option("model", o->model, "Model file")->required();
  sub->add_option("--data", o->data,
                  "Data (CmdStan JSON or R dump; with --method svi or sample also IDX or fashion-mnist): shapes are specialised on it");
  sub->add_option("--stage", o->stage, "ast | lowered | objective (or ir) | gradient | llvm | llvm-optimized | all")
      ->check(one_of({"ast", "lowered", "objective", "ir", "gradient", "llvm", "llvm-optimized", "all"}))
      ->capture_default_str();
  sub->add_option("--method", o->method,
                  "The objective: map (the log density; the default without networks), outputs (generated "
                  "quantities), advi | fullrank (the ELBO), svi (the SVI objective; the default with networks), "
                  "sample (generation, see --step)")
      ->check(one_of({"map", "outputs", "advi", "fullrank", "svi", "sample"}));
  sub->add_flag("--no-jacobian", o->no_jacobian, "map: the log density without the log-Jacobian");
  sub->add_option("--grad-samples", o->draws, "advi, fullrank: draws in the objective")->check(integer_in(1, 100000));
  sub->add_option("--objective", o->objective, "advi, fullrank: elbo | iwae (IWAE_K with K = --grad-samples)")
      ->check(one_of({"elbo", "iwae"}));
  sub->add_option("--batch", o->batch, "svi, sample: rows of the plate in one batch")
      ->check(integer_in(1, int64_t{1} << 30))
      ->capture_default_str();
  sub->add_option("--kl", o->kl, "svi: mc | analytic (closed-form KL where the library has one)")
      ->check(one_of({"mc", "analytic"}));
  sub->add_flag("--evaluation", o->evaluation, "svi: the evaluation objective (ELBO and per-datum log weights)");
  sub->add_option("--precision", o->precision,
                  "svi: mixed (large matrix products in single precision, as fit runs them: the llvm stages show "
                  "which operands and results are kept in float) | double")
      ->check(one_of({"mixed", "double"}))
      ->capture_default_str();
  sub->add_option("--step", o->step, "sample: prior | encoder | draw | decoder (the means)")
      ->check(one_of({"prior", "encoder", "draw", "decoder"}));
  sub->add_flag("--draw-globals", o->draw_globals, "sample --step prior: draw global parameters too");
  return [o] { return run_ir(*o); };
}

}  // namespace latent::cli
