// IR helpers for dense linear algebra that several library entries share
// (stdlib/linear_algebra.cpp, the multivariate distributions, the correlation
// transforms): triangles, diagonals, and the Cholesky factor with Stan's checks.
#pragma once

#include "stdlib/library.hpp"

#include <cstdint>
#include <string>

namespace latent::stdlib {

// m (rows x cols) with the elements above (upper = false) or below (upper = true) the
// diagonal replaced by zeros; the diagonal is scaled by `diagonal` (1: kept).
ir::NodeP triangle(ir::Graph& g, ir::NodeP m, bool upper, double diagonal = 1);
// The diagonal of m (rows x cols): a vector of min(rows, cols) elements.
ir::NodeP diagonal_of(ir::Graph& g, ir::NodeP m);
// The n x n identity matrix.
ir::NodeP identity(ir::Graph& g, int64_t n);
// A check (added to ctx) that m is square; an error at compile time otherwise.
void require_square(CallContext& ctx, ir::NodeP m, const std::string& what);
// Stan's check_symmetric: |m[i, j] - m[j, i]| <= 1e-8 for every pair, checked at run time.
void check_symmetric(CallContext& ctx, ir::NodeP m, const std::string& what);
// Whether the Cholesky factor l (of a matrix that should be positive definite) has a
// pivot that is not positive, and the first such row (1-based) to report.
std::pair<ir::NodeP, ir::NodeP> failed_pivot(ir::Graph& g, ir::NodeP l);
// The lower Cholesky factor of a symmetric positive-definite matrix, with Stan's
// checks (symmetric, positive definite) reported as "<name>: <what> is not ...".
ir::NodeP checked_cholesky(CallContext& ctx, ir::NodeP m, const std::string& what);

}  // namespace latent::stdlib
