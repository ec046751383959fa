// Invertible layers and the normalizing flows made of them, written once and
// used both ways: the density of `x ~ f(mu, sigma)` runs the flow backwards
// (data to base) and adds the log-determinant of the inverse's Jacobian; the
// draws of `sample` and the call `f(z)` run it forwards (base to data).
//
// The language (a network block; see README "Normalizing flows"):
//
//   affine_coupling c1(D, H, keep);   // RealNVP's affine coupling layer
//   flow f(c1, c2, c3, c4);           // base -> c1 -> c2 -> c3 -> c4 -> data
//
// `keep` is a 0/1 vector of the data: where it is 1 the layer passes its input
// through and conditions on it; elsewhere y = u .* exp(s) + t, with
// s = tanh(S(h)) and t = T(h) from h = relu(H2(relu(H1(u .* keep)))).
#pragma once

#include "compiler/ir/ir.hpp"

#include <string>
#include <vector>

namespace latent::flows {

struct Dense {
  ir::NodeP weight, bias;  // {in, out}, {out}
};

struct AffineCoupling {
  std::string name;
  ir::NodeP keep;                   // {D} real, 0 or 1
  Dense hidden1, hidden2, log_scale, shift;
};

// Layers in the order they apply to a base draw.
struct Flow {
  std::vector<AffineCoupling> layers;
  int64_t dim() const { return layers.front().keep->dims[0]; }
};

// x W + b for a matrix whose rows are data points.
ir::NodeP dense_rows(ir::Graph& g, ir::NodeP rows, ir::NodeP weight, ir::NodeP bias);

// The rows of `base` ({R, D}) through the flow: data points.
ir::NodeP forward(ir::Graph& g, const Flow& f, ir::NodeP base);

// The rows of `data` ({R, D}) back to the base, with the log|det| of the inverse
// map's Jacobian as {R, D} elementwise terms (their sum over a row is that row's).
struct Inverse {
  ir::NodeP base;
  ir::NodeP log_det_terms;
};
Inverse inverse(ir::Graph& g, const Flow& f, ir::NodeP data);

}  // namespace latent::flows
