// latent fit MODEL --data D --method svi: stochastic variational inference for
// models with networks and guides (or the automatic guide), by minibatches.
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "data/data_source.hpp"
#include "runtime/inference/svi.hpp"
#include "runtime/output/svi_fit.hpp"

#include <iomanip>
#include <iostream>
#include <thread>

namespace latent::cli {

int threads_or_all_cores(int requested) {
  return requested > 0 ? requested : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

int run_svi(const FitOptions& fit, const SviCliOptions& svi) {
  if (fit.data.empty()) throw UserError("--data is required for --method svi (a JSON file, an IDX file or fashion-mnist)");
  if (fit.outputs.size() > 1) throw UserError("--method svi writes one fit file (--output x.fit)");
  auto program = load_program(fit.model);
  std::shared_ptr<const DataSource> data = open_data_source(fit.data);
  SviModel model(program, data, svi.max_rows);
  SviConfig config;
  config.batch = svi.batch;
  config.epochs = svi.epochs;
  config.optimizer = svi.optimizer == "sgd" ? StochasticOptimizer::SgdMomentum : StochasticOptimizer::Adam;
  config.lr = svi.lr;
  config.analytic_kl = svi.kl == "analytic";
  config.single_precision_products = svi.precision == "mixed";
  config.threads = threads_or_all_cores(svi.threads);
  config.batch_parts = svi.batch_parts;
  config.seed = fit.seed;
  std::vector<double> throughput;
  config.progress = [&](const SviEpoch& e) {
    throughput.push_back(e.items_per_second);
    if (fit.quiet) return;
    std::cerr << std::fixed << std::setprecision(3) << "epoch " << e.epoch << " train_neg_elbo " << e.neg_elbo_per_datum
              << " images_per_s " << std::setprecision(1) << e.items_per_second << " seconds "
              << std::setprecision(3) << e.seconds << "\n";
  };
  if (!fit.quiet)
    std::cerr << "svi: " << model.num_rows() << " data points, batch " << std::min(svi.batch, model.num_rows())
              << ", " << model.reference().num_phi() << " learnable values, " << config.threads << " thread(s)\n";
  SviResult r = fit_svi(model, config);
  if (!fit.quiet && throughput.size() > 1) {
    double sum = 0;
    for (size_t i = 1; i < throughput.size(); ++i) sum += throughput[i];
    std::cerr << "throughput_epochs_2_to_last " << std::fixed << std::setprecision(1)
              << sum / static_cast<double>(throughput.size() - 1) << "\n";
  }
  if (!fit.outputs.empty()) {
    SviFit out{fit.model, fit.data, svi.max_rows, config.analytic_kl, r.phi};
    write_svi_fit(fit.outputs[0], out, model.reference());
  }
  return 0;
}

int run_svi_eval(const std::string& model_path, const std::string& data_spec, const std::string& fit_path, int k,
                 int64_t batch, int threads, int64_t max_rows, uint64_t seed, bool single_precision_products) {
  auto program = load_program(model_path);
  SviFit header = read_svi_fit_header(fit_path);
  std::shared_ptr<const DataSource> data = open_data_source(data_spec.empty() ? header.data : data_spec);
  SviModel model(program, data, max_rows);
  SviFit fit = read_svi_fit(fit_path, model.reference());
  SviEvaluation e = evaluate_svi(model, fit.phi, fit.analytic_kl, k, batch, threads, seed, single_precision_products);
  std::cout << std::fixed << std::setprecision(4) << "data_points " << e.rows << "\n";
  if (e.exact) {  // no latent variables: no bound, the log-likelihood itself
    std::cout << "log_likelihood_per_datum " << -e.neg_elbo_per_datum << "\n";
    return 0;
  }
  std::cout << "neg_elbo_per_datum " << e.neg_elbo_per_datum << "\n";
  if (k > 0) std::cout << "iwae_log_likelihood_per_datum " << k << " " << e.iwae_log_likelihood_per_datum << "\n";
  return 0;
}

}  // namespace latent::cli
