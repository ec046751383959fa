// latent fit MODEL --data D --method svi: stochastic variational inference for
// models with networks and guides (or the automatic guide), by minibatches.
#include "cli/common.hpp"
#include "cli/fit_options.hpp"
#include "cli/options.hpp"
#include "common/read_file.hpp"
#include "data/data_source.hpp"
#include "runtime/distributed/job.hpp"
#include "runtime/inference/svi.hpp"
#include "runtime/output/csv.hpp"
#include "runtime/output/svi_fit.hpp"

#include <atomic>
#include <csignal>
#include <filesystem>
#include <optional>
#include <iomanip>
#include <iostream>
#include <thread>

namespace latent::cli {

int threads_or_all_cores(int requested) {
  return requested > 0 ? requested
                       : static_cast<int>(std::min<unsigned>(kMaxThreads, std::max(1u, std::thread::hardware_concurrency())));
}

namespace {

// The fit to continue (--resume): the checkpoint at `path`, read by rank 0 and
// sent to every rank, checked against this run's options (a continuation that
// changed them would not give the uninterrupted run's result). Null when there
// is no checkpoint yet (a job requeued before its first one starts afresh).
std::unique_ptr<SviFit> read_checkpoint(const std::string& path, const FitOptions& fit, const SviCliOptions& svi,
                                        SviModel& model) {
  distributed::Job& job = distributed::job();
  std::string text = "-";  // "-": no file; else "+" and the file's text
  if (job.root() && std::filesystem::exists(path)) text = "+" + read_file_limited(path, "checkpoint", kMaxDataFileBytes);
  job.broadcast(text);
  if (text == "-") return nullptr;
  auto f = std::make_unique<SviFit>(parse_svi_fit(text.substr(1), path, model.reference()));
  if (!f->has_state)
    throw UserError("--resume: " + path + " holds a finished fit without a checkpoint (it was written without "
                    "--checkpoint-every)");
  auto differs = [&](const std::string& option, const std::string& then, const std::string& now) {
    if (then != now)
      throw UserError("--resume: the checkpoint " + path + " was written with " + option + " " + then +
                      ", this run has " + option + " " + now + " (a continuation keeps it)");
  };
  differs("--data", f->data, fit.data);
  differs("--max-rows", std::to_string(f->max_rows), std::to_string(svi.max_rows));
  differs("--kl", f->analytic_kl ? "analytic" : "mc", svi.kl);
  differs("--seed", std::to_string(f->seed), std::to_string(fit.seed));
  differs("--batch", std::to_string(f->batch), std::to_string(svi.batch));
  differs("--optimizer", f->optimizer, svi.optimizer);
  differs("--lr", format_double(f->lr), format_double(svi.lr));
  return f;
}

// SIGTERM (a scheduler's notice before it kills a job) and SIGINT (Ctrl-C) end a
// checkpointed fit after its current step, with a checkpoint, instead of losing
// the steps since the last one.
std::atomic<bool> stop_signal{false};
std::atomic<int> stop_signal_number{0};

extern "C" void request_stop(int signal_number) {
  stop_signal_number.store(signal_number);
  stop_signal.store(true);
}

struct StopOnSignals {
  struct sigaction old_term {}, old_int {};
  StopOnSignals() {
    struct sigaction action {};
    action.sa_handler = request_stop;
    action.sa_flags = SA_RESETHAND;  // a second signal ends the process at once
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &old_term);
    sigaction(SIGINT, &action, &old_int);
  }
  ~StopOnSignals() {
    sigaction(SIGTERM, &old_term, nullptr);
    sigaction(SIGINT, &old_int, nullptr);
  }
};

}  // namespace

int run_svi(const FitOptions& fit, const SviCliOptions& svi) {
  if (fit.data.empty()) throw UserError("--data is required for --method svi (a JSON file, an IDX file or fashion-mnist)");
  if (fit.outputs.size() > 1) throw UserError("--method svi writes one fit file (--output x.fit)");
  if ((svi.checkpoint_every > 0 || svi.resume) && fit.outputs.empty())
    throw UserError(std::string(svi.resume ? "--resume" : "--checkpoint-every") +
                    " needs --output x.fit: the checkpoint is the fit file");
  distributed::Job& job = distributed::job();
  const bool talk = job.root() && !fit.quiet;  // rank 0 reports for the job
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
  SviFit out;
  out.model = fit.model;
  out.data = fit.data;
  out.max_rows = svi.max_rows;
  out.analytic_kl = config.analytic_kl;
  out.seed = fit.seed;
  out.batch = svi.batch;
  out.optimizer = svi.optimizer;
  out.lr = svi.lr;
  std::optional<StopOnSignals> stop_on_signals;
  if (svi.checkpoint_every > 0) {
    stop_on_signals.emplace();
    config.stop = &stop_signal;
    config.checkpoint_every = svi.checkpoint_every;
    config.checkpoint = [&](const SviState& state) {
      if (!job.root()) return;
      out.phi = state.phi;
      out.has_state = true;
      out.state = state;
      out.state.phi.clear();
      write_svi_fit(fit.outputs[0], out, model.reference());
    };
  }
  SviState start;
  if (svi.resume) {
    std::unique_ptr<SviFit> checkpoint = read_checkpoint(fit.outputs[0], fit, svi, model);
    if (checkpoint) {
      start = checkpoint->state;
      start.phi = std::move(checkpoint->phi);
      if (talk)
        std::cerr << "svi: resuming from " << fit.outputs[0] << " at epoch " << start.epoch << ", step "
                  << start.step + 1 << "\n";
    } else if (talk) {
      std::cerr << "svi: no checkpoint at " << fit.outputs[0] << " yet: starting\n";
    }
  }
  std::vector<double> throughput;
  config.progress = [&](const SviEpoch& e) {
    throughput.push_back(e.items_per_second);
    if (!talk) return;
    std::cerr << std::fixed << std::setprecision(3) << "epoch " << e.epoch << " train_neg_elbo " << e.neg_elbo_per_datum
              << " images_per_s " << std::setprecision(1) << e.items_per_second << " seconds "
              << std::setprecision(3) << e.seconds << "\n";
  };
  if (talk)
    std::cerr << "svi: " << model.num_rows() << " data points, batch " << std::min(svi.batch, model.num_rows())
              << ", " << model.reference().num_phi() << " learnable values, " << config.threads << " thread(s)"
              << (job.distributed() ? " on each of " + std::to_string(job.size()) + " processes" : "") << "\n";
  SviResult r = fit_svi(model, config, std::move(start));
  if (r.stopped) {  // every rank stopped at the same step; rank 0 wrote the checkpoint
    const int signal_number = stop_signal_number.load();
    if (job.root())
      std::cerr << "latent: stopped by " << (signal_number == SIGINT ? "SIGINT" : "SIGTERM") << " at epoch "
                << r.where.epoch << ", step " << r.where.step << " (" << r.where.optimizer.steps << " steps in all); "
                << fit.outputs[0] << " holds the checkpoint: the same command with --resume continues\n";
    return 128 + (signal_number > 0 ? signal_number : SIGTERM);  // as a shell reports a process ended by it
  }
  if (talk && throughput.size() > 1) {
    double sum = 0;
    for (size_t i = 1; i < throughput.size(); ++i) sum += throughput[i];
    std::cerr << "throughput_epochs_2_to_last " << std::fixed << std::setprecision(1)
              << sum / static_cast<double>(throughput.size() - 1) << "\n";
  }
  if (talk && job.distributed())
    std::cerr << "seconds_in_allreduce " << std::fixed << std::setprecision(3) << job.seconds_in_sum() << "\n";
  if (!fit.outputs.empty() && job.root() && svi.checkpoint_every == 0) {  // a checkpointed fit wrote its last state
    out.phi = r.phi;
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
