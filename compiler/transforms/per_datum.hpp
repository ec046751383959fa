// Splitting a sum over a batch into one value per datum.
//
// The importance-weighted bound is per datum: log p(x_n) >= log mean_k w_nk,
// with w_nk = p(x_n, z_nk) / q(z_nk | x_n). A batch objective is one scalar, a
// sum over the batch's rows; this pass rewrites such a scalar into a vector of
// B per-row values (summing to it), by following the rows through the IR:
// tensors whose first axis is the batch (plate data, per-datum noise, and
// whatever elementwise ops and right-multiplications by batch-free matrices
// make of them) reduce row by row instead of to one number.
#pragma once

#include "compiler/ir/ir.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

// An Input that holds one row per datum.
struct PlateLeaf {
  int buffer = 1;
  int64_t offset = 0, size = 0;
  bool batch_axis_first = true;  // the batch is IR axis 0 (vectors, matrices); arrays put it last
};

// A {batch} vector whose entry n depends only on datum n and whose sum is
// `total`; null (and `why`) when the expression does not split by datum.
ir::NodeP per_datum_sums(ir::Graph& g, ir::NodeP total, const std::vector<PlateLeaf>& leaves, int64_t batch,
                         std::string* why);

}  // namespace latent
