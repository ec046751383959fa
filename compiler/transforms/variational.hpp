// Variational objectives built as IR from the log density: the evidence lower
// bound (reparameterised, averaged over S draws) and the importance-weighted
// bound IWAE_K. The noise is an input (buffer 2, dims {n, draws}) drawn by the
// runtime, so each objective is a deterministic function of the variational
// parameters (buffer 0) and is differentiated like any other IR.
#pragma once

#include "compiler/ir/ir.hpp"

#include <cstdint>

namespace latent {

enum class Family {
  MeanField,  // z = mu + exp(omega) .* eps; phi = [mu, omega]
  FullRank,   // z = mu + L eps, L lower triangular; phi = [mu, L by columns (lower triangle)]
};

int64_t num_variational_parameters(Family family, int64_t n);
const char* family_name(Family family);  // "meanfield", "fullrank"

struct VariationalObjective {
  ir::NodeP value;     // scalar
  int64_t num_phi = 0; // length of buffer 0
  int64_t n = 0;       // unconstrained dimension of the model
  int64_t draws = 0;   // columns of the noise buffer (buffer 2)
};

// ELBO = (1/S) sum_s [log p(T(z_s)) + log|J_T(z_s)|] + H[q], with H in closed form.
// `log_density` must include the Jacobian and read the parameters as Input buffer 0.
VariationalObjective build_elbo(ir::Graph& g, ir::NodeP log_density, int64_t n, Family family, int64_t draws);

// IWAE_K = log (1/K) sum_k exp(log p(T(z_k)) + log|J| - log q(z_k)), by a stable log-sum-exp.
VariationalObjective build_iwae(ir::Graph& g, ir::NodeP log_density, int64_t n, Family family, int64_t k);

}  // namespace latent
