#include "compiler/transforms/variational.hpp"

#include "compiler/ir/substitute.hpp"

#include <cmath>
#include <unordered_map>

namespace latent {

using ir::NodeP;
using ir::Op;

namespace {

constexpr double kLogTwoPi = 1.83787706640934548356;

// The approximation's parameters as IR, and one draw z = mu + scale(eps).
struct Approximation {
  ir::Graph& g;
  Family family;
  int64_t n;
  NodeP mu, omega, packed, L;  // omega: mean-field log scales; L: full-rank factor (n x n), from packed

  Approximation(ir::Graph& graph, Family f, int64_t dim) : g(graph), family(f), n(dim) {
    mu = g.input(0, 0, {n});
    if (family == Family::MeanField) {
      omega = g.input(0, n, {n});
    } else {
      // Lower triangle by columns: L(i, j), i >= j, at packed[k(i, j)]. Built as
      // loops (not n^2 scalar nodes) so that compile time does not grow with n^2.
      packed = g.input(0, n, {n * (n + 1) / 2});
      NodeP i = g.new_loop_var(), j = g.new_loop_var();
      NodeP entry = g.select(g.binary(Op::Ge, i, j), g.index(packed, 0, packed_position(i, j)), g.constant(0));
      L = g.loop_gen(j, g.int_constant(0), n, g.loop_gen(i, g.int_constant(0), n, entry));
    }
  }

  // k(i, j) = j n - j (j - 1) / 2 + (i - j): in range for every i, j < n (the
  // entries above the diagonal are masked, not read out of bounds).
  NodeP packed_position(NodeP i, NodeP j) const {
    NodeP column_start = g.sub(g.mul(j, g.int_constant(n)),
                               g.binary(Op::IntDiv, g.mul(j, g.sub(j, g.int_constant(1))), g.int_constant(2)));
    return g.add(column_start, g.sub(i, j));
  }

  NodeP draw(NodeP eps) const {
    if (family == Family::MeanField) return g.add(mu, g.mul(g.unary(Op::Exp, omega), eps));
    return g.add(mu, g.matmul(L, eps));
  }

  // sum of log scales: log|det| of the map eps -> z
  NodeP log_det() const {
    if (family == Family::MeanField) return g.sum(omega);
    NodeP i = g.new_loop_var();
    NodeP diagonal = g.index(packed, 0, packed_position(i, i));
    return g.loop_sum(i, g.int_constant(0), g.int_constant(n - 1), g.unary(Op::Log, g.unary(Op::Abs, diagonal)));
  }

  NodeP entropy() const { return g.add(log_det(), g.constant(0.5 * static_cast<double>(n) * (1 + kLogTwoPi))); }

  // log q(z) at z = draw(eps)
  NodeP log_q(NodeP eps) const {
    NodeP quad = g.mul(g.constant(-0.5), g.sum(g.mul(eps, eps)));
    return g.sub(g.sub(quad, log_det()), g.constant(0.5 * static_cast<double>(n) * kLogTwoPi));
  }
};

// The log density with its parameter leaves (Input buffer 0) read from z.
NodeP log_density_at(ir::Graph& g, NodeP log_density, NodeP z) {
  std::unordered_map<NodeP, NodeP> replace;
  for (NodeP leaf : ir::topological_order({log_density})) {
    if (leaf->op != Op::Input || leaf->a != 0) continue;
    int64_t size = leaf->is_scalar() ? 1 : leaf->size();
    NodeP part = g.slice(z, 0, g.int_constant(leaf->b), size);
    replace[leaf] = leaf->is_scalar() ? g.index(part, 0, g.int_constant(0)) : g.reshape(part, leaf->dims);
  }
  return ir::substitute(g, log_density, replace);
}

}  // namespace

int64_t num_variational_parameters(Family family, int64_t n) {
  return family == Family::MeanField ? 2 * n : n + n * (n + 1) / 2;
}

VariationalObjective build_elbo(ir::Graph& g, NodeP log_density, int64_t n, Family family, int64_t draws) {
  Approximation q(g, family, n);
  NodeP noise = g.input(2, 0, {n, draws});
  NodeP s = g.new_loop_var();
  NodeP z = q.draw(g.index(noise, 1, s));
  NodeP total = g.loop_sum(s, g.int_constant(0), g.int_constant(draws - 1), log_density_at(g, log_density, z));
  NodeP elbo = g.add(g.div(total, g.constant(static_cast<double>(draws))), q.entropy());
  return {elbo, num_variational_parameters(family, n), n, draws};
}

VariationalObjective build_iwae(ir::Graph& g, NodeP log_density, int64_t n, Family family, int64_t k) {
  Approximation q(g, family, n);
  NodeP noise = g.input(2, 0, {n, k});
  NodeP s = g.new_loop_var();
  NodeP eps = g.index(noise, 1, s);
  NodeP log_weight = g.sub(log_density_at(g, log_density, q.draw(eps)), q.log_q(eps));
  NodeP weights = g.loop_gen(s, g.int_constant(0), k, log_weight);
  // log-sum-exp with the maximum held constant (it cancels in the derivative)
  NodeP m = g.unary(Op::StopGradient, g.max_reduce(weights));
  NodeP finite_m = g.select(g.binary(Op::Eq, g.unary(Op::Abs, m), g.constant(INFINITY)), g.constant(0), m);
  NodeP lse = g.add(finite_m, g.unary(Op::Log, g.sum(g.unary(Op::Exp, g.sub(weights, finite_m)))));
  return {g.sub(lse, g.constant(std::log(static_cast<double>(k)))), num_variational_parameters(family, n), n, k};
}

const char* family_name(Family family) { return family == Family::MeanField ? "meanfield" : "fullrank"; }

}  // namespace latent
