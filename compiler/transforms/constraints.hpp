// Constraint transforms between Stan's constrained parameters and the
// unconstrained space in which latent differentiates and optimises.
//
// Forward (unconstrained -> constrained) transforms are built as IR, with the
// log absolute Jacobian determinant as Stan defines it; the inverse runs on the
// host, to turn user-given initial values into unconstrained coordinates.
#pragma once

#include "compiler/ir/ir.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

struct ConstraintSpec {
  enum class Kind {
    None, Lower, Upper, LowerUpper, OffsetMultiplier, Simplex, Ordered, PositiveOrdered,
    UnitVector,  // unit_vector[K]: K free values, x = y / |y|, "log J" = -y'y / 2 (Stan's)
    SumToZero,   // sum_to_zero_vector[K]: K - 1 free values, Stan's isometric map, log J = 0
    // Matrices (rows x cols, each matrix of an array on its own), with Stan's transforms:
    CholeskyCorr,  // cholesky_factor_corr[K]: K (K - 1) / 2 free values
    CorrMatrix,    // corr_matrix[K]: K (K - 1) / 2
    CovMatrix,     // cov_matrix[K]: K (K + 1) / 2
    CholeskyCov    // cholesky_factor_cov[M, N]: N (N + 1) / 2 + (M - N) N
  } kind = Kind::None;
  ir::NodeP lower = nullptr, upper = nullptr;        // Lower/Upper/LowerUpper
  ir::NodeP offset = nullptr, multiplier = nullptr;  // OffsetMultiplier
  int64_t rows = 0, cols = 0;                        // the matrix kinds
};

bool is_matrix_constraint(const ConstraintSpec& c);

// Free values of one matrix of a matrix constraint.
int64_t matrix_free_size(const ConstraintSpec& c);

// Number of unconstrained coordinates for a value with `size` constrained elements
// (the simplex and sum_to_zero_vector lose one per vector of length `simplex_length`).
int64_t unconstrained_size(const ConstraintSpec& c, int64_t size, int64_t simplex_length);

struct Constrained {
  ir::NodeP value;         // constrained value, dims as declared (IR dims)
  ir::NodeP log_jacobian;  // scalar
  // Nonzero (a scalar) where the transform is undefined, or null: a unit_vector
  // whose unconstrained values are all 0 (or whose squared norm overflows);
  // invalid_value is the offending value to show (the squared norm).
  ir::NodeP invalid = nullptr, invalid_value = nullptr;
};

// u has the unconstrained dims; `dims` are the constrained IR dims.
Constrained constrain(ir::Graph& g, const ConstraintSpec& c, ir::NodeP u, const std::vector<int64_t>& dims);

// Bound values on the host: one value, or one per element.
struct BoundValues {
  std::vector<double> lower, upper, offset, multiplier;
};

// Host-side inverse. Throws std::invalid_argument with a message naming the
// offending element (1-based flat index) when a value violates the constraint.
// `simplex_length` is the length of one vector of the vector kinds (simplex,
// ordered, positive_ordered, unit_vector, sum_to_zero_vector).
std::vector<double> unconstrain(const ConstraintSpec& c, const BoundValues& b, const std::vector<double>& x,
                                int64_t simplex_length,
                                bool scalar = false);

// "lower=0", "lower=0, upper=1", "simplex", "" (for messages)
std::string describe(const ConstraintSpec& c);

}  // namespace latent
