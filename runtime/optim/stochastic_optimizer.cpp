#include "runtime/optim/stochastic_optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace latent {

void StochasticStepper::update(double* phi, const double* const* grads, size_t parts, size_t from, size_t to) {
  // Blocks that stay in cache: sum the parts, then step.
  constexpr size_t kBlock = 2048;
  double sum[kBlock];
  for (size_t begin = from; begin < to; begin += kBlock) {
    size_t end = std::min(to, begin + kBlock);
    const double* grad = grads[0] + begin;
    if (parts > 1) {
      for (size_t i = begin; i < end; ++i) sum[i - begin] = grads[0][i];
      for (size_t p = 1; p < parts; ++p)
        for (size_t i = begin; i < end; ++i) sum[i - begin] += grads[p][i];
      grad = sum;
    }
    step_block(phi, grad - begin, begin, end);
  }
}

void StochasticStepper::step_block(double* phi, const double* grad, size_t from, size_t to) {
  if (compact_)
    step_block(phi, grad, from, to, mf_.data(), vf_.data());
  else
    step_block(phi, grad, from, to, m_.data(), v_.data());
}

template <class Moment>
void StochasticStepper::step_block(double* phi, const double* grad, size_t from, size_t to, Moment* m_, Moment* v_) {
  switch (kind_) {
    case StochasticOptimizer::StanAdaptive: {
      // Stan: s_k = 0.9 s_{k-1} + 0.1 g^2 (s_1 = g^2); phi += eta / sqrt(k) * g / (1 + sqrt(s_k))
      double scaled = eta_ / std::sqrt(static_cast<double>(t_));
      for (size_t i = from; i < to; ++i) {
        double v = t_ == 1 ? grad[i] * grad[i] : 0.9 * v_[i] + 0.1 * grad[i] * grad[i];
        v_[i] = static_cast<Moment>(v);
        phi[i] += scaled * grad[i] / (1.0 + std::sqrt(v));
      }
      break;
    }
    case StochasticOptimizer::Adam: {
      const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
      double c1 = 1 - std::pow(b1, t_), c2 = 1 - std::pow(b2, t_);
      double step = eta_ / c1, inv_c2 = 1 / c2;
      for (size_t i = from; i < to; ++i) {
        double m = b1 * m_[i] + (1 - b1) * grad[i];
        double v = b2 * v_[i] + (1 - b2) * grad[i] * grad[i];
        m_[i] = static_cast<Moment>(m);
        v_[i] = static_cast<Moment>(v);
        phi[i] += step * m / (std::sqrt(v * inv_c2) + eps);
      }
      break;
    }
    case StochasticOptimizer::SgdMomentum:
      for (size_t i = from; i < to; ++i) {
        double m = momentum_ * m_[i] + grad[i];
        m_[i] = static_cast<Moment>(m);
        phi[i] += eta_ * m;
      }
      break;
  }
}

StochasticStepper::State StochasticStepper::state() const {
  State s;
  s.steps = t_;
  if (compact_) {
    s.m.assign(mf_.begin(), mf_.end());
    s.v.assign(vf_.begin(), vf_.end());
  } else {
    s.m = m_;
    s.v = v_;
  }
  return s;
}

void StochasticStepper::restore(const State& s) {
  size_t size = compact_ ? mf_.size() : m_.size();
  if (s.m.size() != size || s.v.size() != size) throw std::invalid_argument("optimiser state of another size");
  t_ = s.steps;
  if (compact_) {
    mf_.assign(s.m.begin(), s.m.end());
    vf_.assign(s.v.begin(), s.v.end());
  } else {
    m_ = s.m;
    v_ = s.v;
  }
}

}  // namespace latent
