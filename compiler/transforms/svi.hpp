// Stochastic variational inference objectives, built as IR from a lowered
// program with a network and/or a guide block.
//
// The learnable vector phi (Input buffer 0 of the result) is
//   [ model network (buffer 3) | guide network (buffer 4) | automatic guide ]
// where the automatic guide is a mean-field Gaussian (mu, log sigma) over the
// unconstrained coordinates of every parameter the guide block does not cover
// (ADVI's family). Guided parameters are drawn by reparameterisation,
// z = loc + scale .* eps, with eps read from the noise buffer (Input 2).
//
// Minibatches: the program is lowered with the plate at the batch size B.
// Terms that touch the plate (plate-indexed data or parameters) are scaled by
// N / B so that the estimate and its gradient are unbiased for the full-data
// ELBO; global terms (priors on globals, the guide's global part) are not.
#pragma once

#include "compiler/ir/ir.hpp"
#include "compiler/lower/lowered_program.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

struct SviOptions {
  bool analytic_kl = false;  // KL(q || p) in closed form for Gaussian guide + Gaussian prior
  double local_scale = 1;    // N / B
  double global_scale = 1;   // 1 / T when T workers each evaluate a part of one batch
  // Code generation, not the objective: large matrix products in single precision.
  bool single_precision_products = false;
};

// A parameter without a guide statement: mean-field Gaussian in unconstrained space.
struct AutoGuided {
  std::string name;
  int64_t unconstrained_offset = 0, size = 0;
  int64_t phi_offset = 0;    // mu at phi_offset, log sigma at phi_offset + size
  int64_t noise_offset = 0;
};

struct GuidedParameter {
  std::string name;
  std::vector<int64_t> dims;  // IR dims (with the plate at the batch size)
  bool plate = false;
  bool plate_last_axis = false;  // the plate is dims.back() (array[N] ...), else dims.front()
  int64_t noise_offset = 0;
  bool analytic_kl = false;   // its prior and entropy terms are replaced by -KL
};

struct SviLayout {
  int64_t num_phi = 0;
  int64_t guide_network_offset = 0;  // = size of the model's network
  int64_t auto_offset = 0;           // = both networks
  int64_t noise_size = 0;
  std::vector<GuidedParameter> guided;
  std::vector<AutoGuided> automatic;
};

struct SviObjective {
  ir::NodeP elbo = nullptr;  // scalar estimate of the full-data ELBO
  // Per datum of the batch: log p(x_n, z_n) - log q(z_n | x_n) at the drawn z
  // (dims {B}); null when the model has global latents or a term that cannot
  // be split by datum (then no per-datum importance weights exist).
  ir::NodeP log_weights = nullptr;
  std::string log_weights_unavailable;  // why log_weights is null
  SviLayout layout;
};

// Throws UserError (with the guide statement's location) for a guide the
// objective cannot use, e.g. a normal guide on a constrained parameter.
SviObjective build_svi_objective(LoweredProgram& program, const SviOptions& options);

}  // namespace latent
