#include "runtime/inference/job_objective.hpp"

#include "runtime/inference/draw_noise.hpp"

#include <algorithm>

namespace latent {

JobObjective::JobObjective(const BoundModel& model, Family family, int64_t draws, bool iwae, uint64_t seed,
                           uint64_t stream, distributed::Job& job)
    : job_(job), seed_(seed), stream_(stream), n_(model.num_unconstrained()), draws_(draws),
      num_phi_(num_variational_parameters(family, n_)) {
  if (iwae && job.distributed())
    throw UserError("ADVI: the IWAE objective (--objective iwae) cannot be split across the " +
                    std::to_string(job.size()) +
                    " processes of the job (its log-mean-exp couples the K draws of a step); run it as one process");
  begin_ = draws * job.rank() / job.size();
  end_ = draws * (job.rank() + 1) / job.size();
  if (end_ > begin_) block_ = std::make_unique<CompiledObjective>(model, family, end_ - begin_, iwae);
  noise_.resize(static_cast<size_t>(n_ * (end_ - begin_)));
  sums_.resize(static_cast<size_t>(1 + num_phi_));
}

double JobObjective::evaluate(const std::vector<double>& phi, double* grad) {
  const uint64_t evaluation = evaluations_++;
  const size_t count = grad ? sums_.size() : 1;  // an ELBO estimate sums its value only
  std::fill(sums_.begin(), sums_.end(), 0.0);
  if (block_) {
    for (int64_t d = begin_; d < end_; ++d)
      draw_noise(seed_, stream_, evaluation, static_cast<uint64_t>(d), noise_.data() + (d - begin_) * n_, n_);
    double value = block_->evaluate_at(phi, noise_, grad ? sums_.data() + 1 : nullptr);
    // The block's share of the mean over all draws (exactly 1 in a job of one).
    const double weight = static_cast<double>(end_ - begin_) / static_cast<double>(draws_);
    sums_[0] = value;
    if (weight != 1.0)
      for (size_t k = 0; k < count; ++k) sums_[k] *= weight;
  }
  job_.sum(sums_.data(), count);
  if (grad) std::copy(sums_.begin() + 1, sums_.end(), grad);
  return sums_[0];
}

}  // namespace latent
