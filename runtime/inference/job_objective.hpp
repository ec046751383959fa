// The ELBO of ADVI evaluated by the processes of the job: each evaluation's D
// draws are split into contiguous blocks, one per rank; each rank evaluates its
// block (the compiled objective over its draws) and the job sums the blocks
// weighted by their share of D, so every rank gets the same value and gradient
// and takes the same step. With the noise keyed by draw (draw_noise.hpp), K
// ranks compute the single process's ELBO up to the rounding of the sum.
//
// The ELBO is a mean over draws plus the entropy, so block b's value
// mean_b + H weighted by D_b / D sums to mean + H. IWAE's log-mean-exp does not
// split this way: in a job of several processes it is refused (UserError).
#pragma once

#include "runtime/distributed/job.hpp"
#include "runtime/inference/advi.hpp"

#include <cstdint>
#include <memory>
#include <vector>

namespace latent {

class JobObjective {
 public:
  // `stream` separates the noise of objectives of one run (gradient steps, ELBO estimates).
  JobObjective(const BoundModel& model, Family family, int64_t draws, bool iwae, uint64_t seed, uint64_t stream,
               distributed::Job& job);
  // The objective at phi with the next evaluation's noise; the gradient when
  // grad is not null. Every rank of the job calls it together.
  double evaluate(const std::vector<double>& phi, double* grad);
  int64_t num_phi() const { return num_phi_; }

 private:
  distributed::Job& job_;
  uint64_t seed_, stream_, evaluations_ = 0;
  int64_t n_, draws_, num_phi_, begin_ = 0, end_ = 0;  // this rank's draws: [begin_, end_)
  std::unique_ptr<CompiledObjective> block_;         // over end_ - begin_ draws; none when that is 0
  std::vector<double> noise_, sums_;
};

}  // namespace latent
