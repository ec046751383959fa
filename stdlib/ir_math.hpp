// IR helpers that several library entries write with (functions.cpp,
// distributions.cpp): reductions along rows and columns of matrices.
#pragma once

#include "compiler/ir/ir.hpp"

#include <cstdint>

namespace latent::stdlib {

// log(sum(exp(v))) over every element, stably.
ir::NodeP log_sum_exp_all(ir::Graph& g, ir::NodeP v);
// log_softmax of a vector; of each row of a matrix x[m, n].
ir::NodeP log_softmax_vector(ir::Graph& g, ir::NodeP x);
ir::NodeP log_softmax_rows(ir::Graph& g, ir::NodeP x);
// The maximum of each row of a matrix x[m, n]: a vector[m] (not differentiable).
ir::NodeP row_max(ir::Graph& g, ir::NodeP x);
// v[m] repeated as `columns` columns: a matrix[m, columns].
ir::NodeP across_columns(ir::Graph& g, ir::NodeP v, int64_t columns);
// log(1 - exp(x)) for x < 0: log(-expm1(x)) above -log 2, log1p(-exp(x)) below
// (both branches finite for every x < 0, so the one not taken has a finite adjoint).
ir::NodeP log1m_exp(ir::Graph& g, ir::NodeP x);
// log(exp(a) - exp(b)) = a + log1m_exp(b - a), for a >= b.
ir::NodeP log_diff_exp(ir::Graph& g, ir::NodeP a, ir::NodeP b);
// One-hot rows of 1-based int outcomes y[m] among k categories: a matrix[m, k].
ir::NodeP one_hot_rows(ir::Graph& g, ir::NodeP y, int64_t k);

}  // namespace latent::stdlib
