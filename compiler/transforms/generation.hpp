// Generation programs (`latent sample`), built as IR from a lowered program:
//
//   prior    the parameters drawn from their whole-parameter priors by the
//            prior's sampler (and unconstrained when the parameter is constrained);
//            a prior that depends on another drawn parameter reads that
//            parameter's draw;
//   encoder  the mean of the guide's distribution of every guided parameter, for
//            the rows in the data buffer;
//   draw     a draw of each observed data variable from its distribution given
//            the parameters (the distribution's sampler: its `_rng`);
//   decoder  the mean of each observed data variable's distribution given the
//            parameters (bernoulli_logit -> inv_logit(alpha), normal -> mu, ...);
//   quantities  the generated quantities given the parameters (a program with a
//            generated quantities block generates those instead of its observed
//            variables).
//
// Each writes into `out`: prior and encoder the unconstrained parameter vector
// theta (only the ranges they set), the decoder the generated variables one after
// another, each in storage order. Distributions' means and draws come from their
// library entries (stdlib/distributions.cpp).
#pragma once

#include "compiler/lower/lowered_program.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace latent {

enum class GenerationStep { Prior, Encoder, Draw, Decoder, Quantities };

// An observed data variable that generation writes: the variate of a top-level
// `y ~ dist(...)` on a whole data variable (with a plate: only those it indexes).
struct GeneratedVariable {
  std::string name;
  std::string distribution;
  std::vector<int64_t> stan_dims;  // with the plate at the lowered size
  bool is_matrix = false;          // declared matrix (its last two Stan dims)
  ir::NodeP mean = nullptr;        // flat, in storage order (null: unknown, a flow's)
  ir::NodeP draw = nullptr;        // flat, in storage order (null: the distribution has no sampler)
  // Its outcomes: `events` of `event_size` elements each, event e made of the
  // elements e + events * j (one element each for elementwise distributions;
  // a row of K one-hot columns for a categorical over the rows of a matrix).
  int64_t events = 0, event_size = 1;
  int64_t out_offset = 0;          // in the decoder's output
  // The variable's place in the data buffer, and whether its distribution reads it
  // (an autoregressive model: x feeds its own distribution, so it is drawn
  // position by position).
  int64_t data_offset = -1;
  bool depends_on_itself = false;
};

struct GenerationProgram {
  std::vector<GeneratedVariable> variables;
  std::vector<std::pair<ir::NodeP, int64_t>> outputs;  // (value, offset in out)
  int64_t out_size = 0;
  std::vector<std::pair<int64_t, int64_t>> written;      // Prior, Encoder: (offset, size) of theta ranges set
};

// The generated variables: the observed variables, or the generated quantities
// when the program has any (with a plate, each indexed by it). Throws UserError when there is none or a variable is observed
// twice, or its distribution has no known mean. `model` names the model in messages.
std::vector<GeneratedVariable> generated_variables(LoweredProgram& program, const std::string& model);

// One step. With `draw_globals` the prior draws every parameter the generated
// variables need; without, only the plate-indexed ones (the others stay at their
// theta values).
GenerationProgram build_generation(LoweredProgram& program, GenerationStep step, bool draw_globals,
                                   const std::string& model);

}  // namespace latent
