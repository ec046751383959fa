// Stochastic variational inference: maximises the minibatch ELBO of an
// SviModel over its learnable vector phi (networks, guide, automatic guide)
// by Adam or SGD, epoch by epoch over shuffled data; and evaluates a fitted
// phi on a data set (negative ELBO and the importance-weighted log-likelihood
// bound, per datum).
//
// Threads: large matrix products are split across the threads by blocks of
// their output, and so is the optimiser step. A batch may also be split into
// parts evaluated in parallel (batch_parts): every part is a compiled objective
// over its rows (local terms scaled by N / B, global terms by 1 / parts), so the
// parts' gradients sum to the batch's. Parallel parts are the default: the
// elementwise work between products is split too (on the VAE, 2 parts on 2
// cores train 1.3x faster than one evaluation with threaded products).
//
// Processes (runtime/distributed/job.hpp): in a job of K ranks every rank
// takes its share of the rows of every batch (the batches are the same on
// every rank: one permutation per epoch from the seed, as PyTorch's
// DistributedSampler), splits it into parts on its threads, and the job sums
// the ELBO and the gradient (in single precision, as the optimiser's moments
// are kept) before every rank takes the same step. A row's noise comes from a
// stream of its own (seed, epoch, step, position in the batch) and the global
// noise from the step's: the estimate does not depend on how a batch is split,
// and a K-rank fit equals the 1-rank fit to rounding.
#pragma once

#include "runtime/model/svi_model.hpp"
#include "runtime/optim/stochastic_optimizer.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace latent {

struct SviEpoch {
  int epoch = 0;
  double neg_elbo_per_datum = 0;  // mean over the epoch's batches
  double items_per_second = 0;    // data points per second, gathering included
  double seconds = 0;
};

struct SviConfig {
  int64_t batch = 128;
  int epochs = 10;
  StochasticOptimizer optimizer = StochasticOptimizer::Adam;
  double lr = 1e-3;
  double momentum = 0.9;  // SGD
  bool analytic_kl = false;
  bool single_precision_products = false;  // large matrix products in float (see codegen.hpp)
  int threads = 1;
  int batch_parts = 0;  // at most `threads`; 0: one part per thread
  uint64_t seed = 0;
  std::function<void(const SviEpoch&)> progress;
  // Called every `checkpoint_every` steps (0: never) and at the end, on every rank.
  int64_t checkpoint_every = 0;
  std::function<void(const struct SviState&)> checkpoint;
  // Set from elsewhere (a signal handler) to end the fit after the current step
  // with a checkpoint; in a job of several ranks any rank's request stops them all
  // at the same step (it travels in the step's sum).
  const std::atomic<bool>* stop = nullptr;
};

// Where a fit is: what continuing it exactly needs (a checkpoint).
struct SviState {
  std::vector<double> phi;
  StochasticStepper::State optimizer;  // steps taken and the moment estimates
  int epoch = 1;                       // the epoch under way (1-based; epochs + 1 when done)
  int64_t step = 0;                    // its batches done
  double elbo_sum = 0;                 // their ELBO estimates, summed (for its progress line)
  double seconds = 0;                  // its time so far
};

struct SviResult {
  std::vector<double> phi;
  std::vector<SviEpoch> epochs;
  bool stopped = false;  // by config.stop, before the last epoch ended
  SviState where;        // when stopped: the state the checkpoint holds (without phi)
};

// Starts from `phi` (empty: initial_phi). Throws UserError when the objective
// stops being finite (divergence) or a check fails (bad data, a guide scale <= 0).
SviResult fit_svi(SviModel& model, const SviConfig& config, std::vector<double> phi = {});
// Continues from a checkpoint (its phi must have the model's size).
SviResult fit_svi(SviModel& model, const SviConfig& config, SviState start);

struct SviEvaluation {
  int64_t rows = 0;
  bool exact = false;  // the model has no latent variables: the "ELBO" is the exact log-likelihood
  double neg_elbo_per_datum = 0;
  int iwae_k = 0;
  double iwae_log_likelihood_per_datum = 0;  // with iwae_k > 0
};

// One pass over the model's data in order (no subsampling noise besides q's).
SviEvaluation evaluate_svi(SviModel& model, const std::vector<double>& phi, bool analytic_kl, int iwae_k,
                           int64_t batch, int threads, uint64_t seed, bool single_precision_products = false);

}  // namespace latent
