// Options of `latent fit`, shared by its methods (cli/command_fit.cpp: MAP;
// cli/fit_advi.cpp: ADVI; cli/fit_svi.cpp: SVI; cli/fit_nuts.cpp: NUTS;
// cli/fit_laplace.cpp, cli/fit_dadvi.cpp, cli/fit_pathfinder.cpp).
#pragma once

#include "cli/init_option.hpp"
#include "runtime/model/bound_model.hpp"
#include "runtime/optim/lbfgs.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace latent::cli {

// Upper limits of sizes given on the command line (each allocates in proportion).
constexpr int kMaxDraws = 1000000;       // advi --draws: rows of the output
constexpr int kMaxSamples = 100000;      // draws compiled into one objective (--grad-samples, --k, eval --iwae)
constexpr int64_t kMaxBatch = int64_t{1} << 30;  // svi --batch, eval --batch

struct FitOptions {
  std::string model, data, init, method = "map";
  InitOption init_option;  // --init read (add_fit_command, before anything runs)
  std::vector<std::string> outputs;  // .csv and/or .json; none: CSV on stdout
  uint64_t seed = 0;
  int iterations = 2000;
  // Tighter than CmdStan's tol_rel_grad = 1e7: gradients are cheap here, and modes of
  // badly scaled problems (kidiq) are otherwise off in the fourth digit.
  double tol_rel_grad = 1e4, tol_rel_obj = 1e4;
  bool jacobian = false, quiet = false;
};


// The mode by L-BFGS from --init (or random points) with --iter and the
// tolerances, with or without the Jacobian; progress on standard error unless
// --quiet. Throws UserError when it diverges.
LbfgsResult find_mode(const BoundModel& model, const FitOptions& fit, bool jacobian);

// ADVI (--method advi | fullrank)
struct AdviCliOptions {
  int draws = 1000, grad_samples = 1, elbo_samples = 100, eval_elbo = 100, iterations = 10000;
  double tol_rel_obj = 0.01, eta = 1.0;
  bool adapt = true;
  bool psis_resample = false;  // output draws resampled by their Pareto-smoothed importance weights
  std::string optimizer = "stan", objective = "elbo";
  int k = 0;  // importance samples for --objective iwae
};

int run_advi(const FitOptions& fit, const AdviCliOptions& advi);

// Laplace (--method laplace): draws and --psis-resample as ADVI's.
int run_laplace(const FitOptions& fit, int draws, bool psis_resample);

// DADVI (--method dadvi): draws and --psis-resample as ADVI's.
struct DadviCliOptions {
  int dadvi_draws = 0;  // fixed draws of the objective (even: antithetic pairs); 0: dadvi_default_draws
  std::string family = "meanfield";
  int draws = 1000;
  bool psis_resample = false;
};

int run_dadvi(const FitOptions& fit, const DadviCliOptions& dadvi);
// 30 (the paper's choice) for mean-field; for full-rank twice the number of
// variational parameters n + n(n+1)/2, at least 30: with fewer draws than
// parameters the optimum fits the draws rather than the posterior.
int dadvi_default_draws(bool full_rank, int64_t n);

// Pathfinder (--method pathfinder): --draws of each path; with --psis-resample
// (the default, as CmdStan) that many draws resampled from the pooled ones.
struct PathfinderCliOptions {
  int paths = 4;         // --num-paths (CmdStan's num_paths)
  int history = 6;       // --history-size: J, the paper's default (CmdStan's is 5)
  int elbo_draws = 25;   // --num-elbo-draws (CmdStan's num_elbo_draws)
  int draws = 1000;      // --draws (CmdStan's num_draws and num_psis_draws)
  int threads = 0;       // --threads; 0: one per path, at most one per core
  bool psis_resample = true;
};

int run_pathfinder(const FitOptions& fit, const PathfinderCliOptions& pathfinder);

// SVI (--method svi)
struct SviCliOptions {
  int64_t batch = 128, max_rows = 0;
  int epochs = 10;
  int threads = 0;  // 0: every core
  int batch_parts = 0;  // 0: one per thread
  double lr = 1e-3;
  std::string optimizer = "adam", kl = "mc", precision = "mixed";
  int64_t checkpoint_every = 0;  // steps between checkpoints written to --output (0: none)
  bool resume = false;           // continue from the checkpoint at --output
};

int run_svi(const FitOptions& fit, const SviCliOptions& svi);

// NUTS (--method nuts)
struct NutsCliOptions {
  int chains = 4;
  int threads = 0;  // 0: one per chain, at most one per core
  int64_t warmup = 1000, samples = 1000, thin = 1;
  int max_depth = 10;
  double adapt_delta = 0.8, step_size = 1;
  std::string metric = "diag_e";
};

int run_nuts(const FitOptions& fit, const NutsCliOptions& nuts);
// The file of chain `chain` (0-based): draws.csv -> draws_1.csv, ... (unchanged for one chain).
std::string chain_output_path(const std::string& output, int chain, int chains);
int threads_or_all_cores(int requested);
int run_svi_eval(const std::string& model, const std::string& data, const std::string& fit, int k, int64_t batch,
                 int threads, int64_t max_rows, uint64_t seed, bool single_precision_products);

bool ends_with(const std::string& s, const std::string& suffix);
// The CSV file among --output (the first that is not .json), or "" (standard output).
std::string first_csv_output(const std::vector<std::string>& outputs);

// A variable's values (CmdStan column order, from `at`) as nested JSON arrays.
nlohmann::json nested(const std::vector<double>& values, size_t at, const std::vector<int64_t>& dims);

// The parameters' constrained values (CmdStan column order) as a JSON object by
// name, as --init reads them.
nlohmann::json parameters_by_name(const BoundModel& model, const std::vector<double>& constrained);

// A fit's outputs: each --output file as CSV or (.json) JSON; the CSV on stdout when none is given.
void write_fit_outputs(const std::vector<std::string>& outputs, const std::string& csv, const std::string& json);

}  // namespace latent::cli
