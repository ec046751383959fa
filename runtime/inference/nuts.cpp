#include "runtime/inference/nuts.hpp"

#include "common/source.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace latent {

namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

double log_sum_exp(double a, double b) {
  if (a == -kInfinity) return b;
  if (b == -kInfinity) return a;
  double hi = std::max(a, b);
  return hi + std::log1p(std::exp(-std::fabs(a - b)));
}

}  // namespace

NutsSampler::NutsSampler(LogDensityGradient log_density, int64_t dimension, MetricKind metric, std::mt19937_64& rng)
    : n_(dimension), metric_(metric, dimension), hamiltonian_(std::move(log_density), metric_), rng_(rng), z_(dimension),
      z_fwd_(dimension), z_bck_(dimension), z_sample_(dimension), z_propose_(dimension) {
  for (Eigen::VectorXd* v : {&p_fwd_fwd_, &p_sharp_fwd_fwd_, &p_fwd_bck_, &p_sharp_fwd_bck_, &p_bck_fwd_,
                             &p_sharp_bck_fwd_, &p_bck_bck_, &p_sharp_bck_bck_, &rho_, &rho_fwd_, &rho_bck_,
                             &rho_extended_})
    v->setZero(n_);
  allocate_levels();
}

void NutsSampler::allocate_levels() {
  levels_.resize(static_cast<size_t>(max_depth_) + 1);
  for (Level& l : levels_) {
    for (Eigen::VectorXd* v : {&l.p_init_end, &l.p_sharp_init_end, &l.rho_init, &l.p_final_beg, &l.p_sharp_final_beg,
                               &l.rho_final, &l.rho_extended})
      v->setZero(n_);
    l.z_propose_final = PhasePoint(n_);
  }
}

void NutsSampler::set_max_depth(int depth) {
  if (depth < 1) throw std::invalid_argument("NutsSampler: max_depth must be positive");
  max_depth_ = depth;
  allocate_levels();
}

void NutsSampler::set_position(const std::vector<double>& q) {
  z_.q = Eigen::Map<const Eigen::VectorXd>(q.data(), n_);
  hamiltonian_.update_position(z_);
}

void NutsSampler::init_step_size() {
  if (n_ == 0 || step_size_ == 0 || step_size_ > 1e7 || std::isnan(step_size_)) return;
  const PhasePoint start = z_;
  // Energy change of one leapfrog step from a fresh momentum at the start.
  auto delta_h = [&] {
    z_ = start;
    metric_.draw_momentum(rng_, z_.p);
    double h0 = hamiltonian_.energy(z_);
    hamiltonian_.leapfrog(z_, step_size_);
    double h = hamiltonian_.energy(z_);
    return h0 - h;
  };
  const double log_target = std::log(0.8);
  const int direction = delta_h() > log_target ? 1 : -1;
  while (true) {
    double dh = delta_h();
    if (direction == 1 && !(dh > log_target)) break;
    if (direction == -1 && !(dh < log_target)) break;
    step_size_ = direction == 1 ? 2 * step_size_ : 0.5 * step_size_;
    if (step_size_ > 1e7)
      throw UserError("the step size grows without bound (above 1e7) while looking for a first step size: the "
                      "posterior is improper; check the model");
    if (step_size_ == 0)
      throw UserError("no acceptably small step size could be found: the posterior may not be continuous, or its "
                      "log density is not finite around the initial point");
  }
  z_ = start;
}

NutsTransition NutsSampler::transition() {
  metric_.draw_momentum(rng_, z_.p);
  z_fwd_ = z_;
  z_bck_ = z_;
  z_sample_ = z_;
  z_propose_ = z_;

  hamiltonian_.velocity(z_, p_sharp_fwd_fwd_);
  p_sharp_fwd_bck_ = p_sharp_fwd_fwd_;
  p_sharp_bck_fwd_ = p_sharp_fwd_fwd_;
  p_sharp_bck_bck_ = p_sharp_fwd_fwd_;
  p_fwd_fwd_ = z_.p;
  p_fwd_bck_ = z_.p;
  p_bck_fwd_ = z_.p;
  p_bck_bck_ = z_.p;
  rho_ = z_.p;

  double log_sum_weight = 0;  // the initial state's weight, exp(H0 - H0)
  const double H0 = hamiltonian_.energy(z_);
  int64_t n_leapfrog = 0;
  double sum_metro_prob = 0;
  int depth = 0;
  divergent_ = false;

  while (depth < max_depth_) {
    rho_fwd_.setZero();
    rho_bck_.setZero();
    bool valid_subtree = false;
    double log_sum_weight_subtree = -kInfinity;
    if (uniform() > 0.5) {
      // Forward: the old trajectory becomes the backward part; its forward end
      // borders the new subtree.
      z_ = z_fwd_;
      rho_bck_ = rho_;
      p_bck_fwd_ = p_fwd_fwd_;
      p_sharp_bck_fwd_ = p_sharp_fwd_fwd_;
      valid_subtree = build_tree(depth, z_propose_, p_sharp_fwd_bck_, p_sharp_fwd_fwd_, rho_fwd_, p_fwd_bck_,
                                 p_fwd_fwd_, H0, 1, n_leapfrog, log_sum_weight_subtree, sum_metro_prob);
      z_fwd_ = z_;
    } else {
      z_ = z_bck_;
      rho_fwd_ = rho_;
      p_fwd_bck_ = p_bck_bck_;
      p_sharp_fwd_bck_ = p_sharp_bck_bck_;
      valid_subtree = build_tree(depth, z_propose_, p_sharp_bck_fwd_, p_sharp_bck_bck_, rho_bck_, p_bck_fwd_,
                                 p_bck_bck_, H0, -1, n_leapfrog, log_sum_weight_subtree, sum_metro_prob);
      z_bck_ = z_;
    }
    if (!valid_subtree) break;
    ++depth;

    // Biased progressive sampling: favour the new subtree.
    if (log_sum_weight_subtree > log_sum_weight) {
      z_sample_ = z_propose_;
    } else if (uniform() < std::exp(log_sum_weight_subtree - log_sum_weight)) {
      z_sample_ = z_propose_;
    }
    log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);

    rho_ = rho_bck_ + rho_fwd_;
    bool persist = no_u_turn(p_sharp_bck_bck_, p_sharp_fwd_fwd_, rho_);
    rho_extended_ = rho_bck_ + p_fwd_bck_;
    persist = persist && no_u_turn(p_sharp_bck_bck_, p_sharp_fwd_bck_, rho_extended_);
    rho_extended_ = rho_fwd_ + p_bck_fwd_;
    persist = persist && no_u_turn(p_sharp_bck_fwd_, p_sharp_fwd_fwd_, rho_extended_);
    if (!persist) break;
  }

  z_ = z_sample_;
  NutsTransition t;
  t.log_density = z_.log_density;
  t.accept_stat = n_leapfrog > 0 ? sum_metro_prob / static_cast<double>(n_leapfrog) : 0;
  t.step_size = step_size_;
  t.tree_depth = depth;
  t.n_leapfrog = n_leapfrog;
  t.divergent = divergent_;
  t.energy = hamiltonian_.energy(z_);
  return t;
}

bool NutsSampler::build_tree(int depth, PhasePoint& z_propose, Eigen::VectorXd& p_sharp_beg,
                             Eigen::VectorXd& p_sharp_end, Eigen::VectorXd& rho, Eigen::VectorXd& p_beg,
                             Eigen::VectorXd& p_end, double H0, double sign, int64_t& n_leapfrog,
                             double& log_sum_weight, double& sum_metro_prob) {
  if (depth == 0) {
    hamiltonian_.leapfrog(z_, sign * step_size_);
    ++n_leapfrog;
    double h = hamiltonian_.energy_and_velocity(z_, p_sharp_beg);
    if (h - H0 > max_energy_error_) divergent_ = true;
    log_sum_weight = log_sum_exp(log_sum_weight, H0 - h);
    sum_metro_prob += H0 - h > 0 ? 1 : std::exp(H0 - h);
    z_propose = z_;
    p_sharp_end = p_sharp_beg;
    rho += z_.p;
    p_beg = z_.p;
    p_end = z_.p;
    return !divergent_;
  }

  Level& l = levels_[static_cast<size_t>(depth)];
  // The initial half, from the end of the trajectory outwards.
  double log_sum_weight_init = -kInfinity;
  l.rho_init.setZero();
  if (!build_tree(depth - 1, z_propose, p_sharp_beg, l.p_sharp_init_end, l.rho_init, p_beg, l.p_init_end, H0, sign,
                  n_leapfrog, log_sum_weight_init, sum_metro_prob))
    return false;

  // The final half.
  double log_sum_weight_final = -kInfinity;
  l.rho_final.setZero();
  if (!build_tree(depth - 1, l.z_propose_final, l.p_sharp_final_beg, p_sharp_end, l.rho_final, l.p_final_beg, p_end,
                  H0, sign, n_leapfrog, log_sum_weight_final, sum_metro_prob))
    return false;

  // Uniform progressive sampling between the halves.
  double log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
  log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
  if (log_sum_weight_final > log_sum_weight_subtree) {
    z_propose = l.z_propose_final;
  } else if (uniform() < std::exp(log_sum_weight_final - log_sum_weight_subtree)) {
    z_propose = l.z_propose_final;
  }

  l.rho_extended = l.rho_init + l.rho_final;  // the subtree's summed momentum
  rho += l.rho_extended;
  bool persist = no_u_turn(p_sharp_beg, p_sharp_end, l.rho_extended);
  // Each half extended by the neighbouring state of the other.
  l.rho_extended = l.rho_init + l.p_final_beg;
  persist = persist && no_u_turn(p_sharp_beg, l.p_sharp_final_beg, l.rho_extended);
  l.rho_extended = l.rho_final + l.p_init_end;
  persist = persist && no_u_turn(l.p_sharp_init_end, p_sharp_end, l.rho_extended);
  return persist;
}

}  // namespace latent
