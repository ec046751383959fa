// The No-U-Turn sampler as Stan runs it (Betancourt 2017, "A Conceptual
// Introduction to Hamiltonian Monte Carlo", appendix A): the trajectory doubles
// in a random direction of time; states are drawn multinomially, by biased
// progressive sampling between the old trajectory and each new subtree and
// uniform progressive sampling inside subtrees; the generalised no-U-turn
// criterion on the sharp momenta (M^-1 p) ends a trajectory, checked on every
// merged tree and also across the two halves of each merge (each half extended
// by the neighbouring state of the other), as Stan does since 2.21. An energy
// error above 1000 is a divergence and stops the trajectory.
#pragma once

#include "runtime/inference/hamiltonian.hpp"

#include <cstdint>
#include <random>
#include <vector>

namespace latent {

// What one transition reports: Stan's sampler columns.
struct NutsTransition {
  double log_density = 0;  // lp__ at the new state
  double accept_stat = 0;  // mean Metropolis acceptance probability over the trajectory
  double step_size = 0;
  int tree_depth = 0;
  int64_t n_leapfrog = 0;
  bool divergent = false;
  double energy = 0;       // H at the new state
};

class NutsSampler {
 public:
  // rng: the chain's own stream (borrowed; it must outlive the sampler).
  NutsSampler(LogDensityGradient log_density, int64_t dimension, MetricKind metric, std::mt19937_64& rng);

  // Moves to q and evaluates the log density there.
  void set_position(const std::vector<double>& q);
  const PhasePoint& state() const { return z_; }
  std::vector<double> position() const { return std::vector<double>(z_.q.data(), z_.q.data() + z_.q.size()); }

  EuclideanMetric& metric() { return metric_; }
  double step_size() const { return step_size_; }
  void set_step_size(double epsilon) { step_size_ = epsilon; }
  int max_depth() const { return max_depth_; }
  void set_max_depth(int depth);
  void set_max_energy_error(double delta) { max_energy_error_ = delta; }

  NutsTransition transition();

  // Stan's initial step-size heuristic: from the current step size, doubles or
  // halves it until the acceptance probability of one leapfrog step from a
  // fresh momentum crosses 0.8. Throws UserError when the step size runs above
  // 1e7 (an improper posterior) or down to 0.
  void init_step_size();

  int64_t gradient_evaluations() const { return hamiltonian_.gradient_evaluations(); }

 private:
  // Workspace of one level of recursion, allocated once.
  struct Level {
    Eigen::VectorXd p_init_end, p_sharp_init_end, rho_init;
    Eigen::VectorXd p_final_beg, p_sharp_final_beg, rho_final, rho_extended;
    PhasePoint z_propose_final;
  };

  bool build_tree(int depth, PhasePoint& z_propose, Eigen::VectorXd& p_sharp_beg, Eigen::VectorXd& p_sharp_end,
                  Eigen::VectorXd& rho, Eigen::VectorXd& p_beg, Eigen::VectorXd& p_end, double H0, double sign,
                  int64_t& n_leapfrog, double& log_sum_weight, double& sum_metro_prob);
  static bool no_u_turn(const Eigen::VectorXd& p_sharp_minus, const Eigen::VectorXd& p_sharp_plus,
                        const Eigen::VectorXd& rho) {
    return p_sharp_plus.dot(rho) > 0 && p_sharp_minus.dot(rho) > 0;
  }
  // Uniform on [0, 1) from the top 53 bits (std::generate_canonical computes a
  // long double logarithm on every call).
  double uniform() { return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0); }
  void allocate_levels();

  int64_t n_;
  EuclideanMetric metric_;
  Hamiltonian hamiltonian_;
  std::mt19937_64& rng_;
  double step_size_ = 1;
  int max_depth_ = 10;
  double max_energy_error_ = 1000;
  bool divergent_ = false;

  PhasePoint z_;  // the current state; during a transition, the end being extended
  // Transition workspace: the trajectory's ends, its sample and proposal.
  PhasePoint z_fwd_, z_bck_, z_sample_, z_propose_;
  Eigen::VectorXd p_fwd_fwd_, p_sharp_fwd_fwd_, p_fwd_bck_, p_sharp_fwd_bck_;
  Eigen::VectorXd p_bck_fwd_, p_sharp_bck_fwd_, p_bck_bck_, p_sharp_bck_bck_;
  Eigen::VectorXd rho_, rho_fwd_, rho_bck_, rho_extended_;
  std::vector<Level> levels_;
};

}  // namespace latent
