// Stochastic gradient ascent steps shared by ADVI and SVI: Stan's adaptive
// step-size sequence, Adam, and SGD with momentum. Each maximises: phi moves
// along the gradient.
#pragma once

#include <cstddef>
#include <vector>

namespace latent {

enum class StochasticOptimizer { StanAdaptive, Adam, SgdMomentum };

class StochasticStepper {
 public:
  // compact: keep the moment estimates in single precision (as PyTorch does):
  // for networks with many weights the step is bound by memory traffic.
  StochasticStepper(StochasticOptimizer kind, size_t size, double eta, double momentum = 0.9, bool compact = false)
      : kind_(kind), eta_(eta), momentum_(momentum), compact_(compact) {
    if (compact) {
      mf_.assign(size, 0.0f);
      vf_.assign(size, 0.0f);
    } else {
      m_.assign(size, 0.0);
      v_.assign(size, 0.0);
    }
  }

  // One step on all of phi.
  void step(std::vector<double>& phi, const std::vector<double>& grad) {
    begin_step();
    update(phi.data(), grad.data(), 0, phi.size());
  }

  // The same step in pieces (so that workers can each update a range):
  // begin_step() once, then update() on disjoint ranges [from, to).
  void begin_step() { ++t_; }
  void update(double* phi, const double* grad, size_t from, size_t to) { update(phi, &grad, 1, from, to); }
  // The gradient is the sum of `parts` partial gradients (one per worker), summed
  // in the same pass as the step.
  void update(double* phi, const double* const* grads, size_t parts, size_t from, size_t to);

  // What continuing a run exactly needs (a checkpoint): the steps taken and the
  // moment estimates (single-precision ones widen and narrow back exactly).
  struct State {
    long steps = 0;
    std::vector<double> m, v;
  };
  State state() const;
  // Throws std::invalid_argument when the moments' sizes differ from the stepper's.
  void restore(const State& state);

 private:
  // grad is indexed like phi (grad[i] for i in [from, to)).
  void step_block(double* phi, const double* grad, size_t from, size_t to);
  template <class Moment>
  void step_block(double* phi, const double* grad, size_t from, size_t to, Moment* m, Moment* v);
  StochasticOptimizer kind_;
  double eta_, momentum_;
  bool compact_;
  long t_ = 0;
  std::vector<double> m_, v_;
  std::vector<float> mf_, vf_;
};

}  // namespace latent
