// Markov chains of NUTS on a bound model, run as Stan runs them: each chain
// finds its initial point, runs the warm-up with Stan's adaptation (step size
// by dual averaging, the metric over doubling windows), then draws with the
// adapted step size and metric; every kept draw records Stan's sampler columns
// and the constrained outputs (parameters, transformed parameters, generated
// quantities). Chains run in parallel threads, each with its own random stream
// derived from (seed, chain), so a chain's draws do not depend on the number of
// threads or on the other chains.
#pragma once

#include "data/json_data.hpp"
#include "runtime/inference/hamiltonian.hpp"
#include "runtime/model/bound_model.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace latent {

struct ChainProgress {
  int chain = 0;             // 0-based
  int64_t iteration = 0;     // iterations done, warm-up included
  int64_t total = 0;         // warm-up + sampling iterations
  bool warmup = true;        // the iteration just done was a warm-up iteration
  int64_t divergences = 0;   // so far, warm-up and sampling
};

struct NutsOptions {
  int chains = 4;
  int threads = 0;            // 0: one per chain, at most one per core
  int64_t warmup = 1000;
  int64_t samples = 1000;
  int64_t thin = 1;
  int max_depth = 10;
  double adapt_delta = 0.8;
  MetricKind metric = MetricKind::diagonal;
  double step_size = 1;       // the first step size tried by the heuristic
  uint64_t seed = 0;
  const DataSet* init = nullptr;  // constrained initial values by name (parameters not given: random)
  double init_radius = 2;         // random initial points: uniform(-R, R) on the unconstrained scale
  // Called after every iteration of every chain, from the chains' threads.
  std::function<void(const ChainProgress&)> progress;
  // Set to true from elsewhere to stop every chain after its current iteration.
  const std::atomic<bool>* interrupt = nullptr;
  // The chains this process runs, increasing (none given: all of 0 .. chains - 1;
  // an empty list: none). In a job of several processes each runs its own
  // (chains_in_job.hpp); a chain's draws depend only on (seed, chain), not on
  // where it runs.
  std::optional<std::vector<int>> only_chains;
};

struct ChainResult {
  int chain = 0;                      // 0-based; CmdStan's id is chain + 1
  std::vector<double> draws;          // rows of columns() values, row-major
  int64_t rows = 0;
  std::vector<double> initial_point;  // unconstrained
  double step_size = 0;               // after adaptation
  // The adapted inverse metric: n values (diag_e), n * n row-major (dense_e), none (unit_e).
  std::vector<double> inverse_metric;
  double warmup_seconds = 0, sampling_seconds = 0;
  int64_t warmup_divergences = 0, divergences = 0;  // divergences among the kept draws (after thinning)
  int64_t max_depth_hits = 0;         // kept draws whose tree depth reached max_depth
  int64_t gradient_evaluations = 0;   // warm-up and sampling
  int64_t generated_failures = 0;     // draws whose generated quantities failed (written as NaN)
  std::string first_generated_failure;
};

struct NutsRun {
  std::vector<std::string> columns;  // lp__, accept_stat__, ..., energy__, then BoundModel::output_names()
  std::vector<ChainResult> chains;   // in chain order (only NutsOptions::only_chains when given)
  std::vector<std::string> notes;    // about the configuration (a shrunk warm-up schedule, ...)
  int64_t dimension = 0;             // unconstrained parameters
  int threads = 0;                   // threads the chains ran on
};

// Stan's sampler columns, in CmdStan's order.
const std::vector<std::string>& sampler_columns();

// Throws UserError naming the first option out of its range.
void validate(const NutsOptions& options);

// Validates the options, then runs the chains.
// Throws UserError when a chain cannot start (no finite initial point, no step
// size) or its adaptation overflows; the other chains are stopped.
NutsRun run_nuts(const BoundModel& model, const NutsOptions& options);

// The random streams of a chain (kernels/random.hpp's random_engine): the
// sampler's and its generated quantities', independent for every (seed, chain)
// and of the streams of MAP (1) and ADVI (2).
constexpr uint64_t kChainStreamBase = 100;
std::mt19937_64 chain_random_stream(uint64_t seed, int chain);
std::mt19937_64 chain_generated_quantities_stream(uint64_t seed, int chain);

}  // namespace latent
