// Validating one data field against its declaration in the data block, and
// converting it to latent's storage order.
//
// Storage order (the layout the compiled code reads):
//   - array dims row-major (last array index fastest);
//   - each array element (a vector / row_vector / matrix) stored contiguously;
//   - a matrix column-major within its element.
// So for `array[2] matrix[3, 4] a`, JSON a[i][r][c] (0-based) goes to
// position i*12 + c*3 + r. This is also CmdStan's CSV column order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/json_data.hpp"

namespace latent {

struct DeclaredShape {
  std::string name;
  bool is_int = false;          // declared int (or array of int)
  // Stan order: array dims first, then vector/matrix dims
  // (vector[n] -> {n}; matrix[m, n] -> {m, n}; array[2] matrix[3, 4] -> {2, 3, 4}).
  std::vector<int64_t> dims;
  std::optional<double> lower, upper;  // declared constraint bounds, if any
  // The last two dims are the rows and columns of a matrix (matrix,
  // cholesky_factor_*, corr_matrix, cov_matrix ...): stored column-major.
  bool is_matrix_last2 = false;
  // Types whose values are constrained as a whole: each simplex (the last dim) is
  // non-negative and sums to 1; each cholesky_factor_corr (the last two dims) is
  // lower triangular with a positive diagonal and rows of unit length (Stan's
  // tolerance, 1e-8); each unit_vector has a sum of squares of 1 and each
  // sum_to_zero_vector sums to 0 (both within 1e-8).
  enum class Structure { None, Simplex, CholeskyFactorCorr, Ordered, PositiveOrdered, UnitVector, SumToZero };
  Structure structure = Structure::None;
  // The declaration as the user wrote it, for messages ("vector<lower=0>[N] y").
  // When empty, one is made up from the fields above ("array[3] int y").
  std::string declared_as;
};

// Checks presence, shape, integrality (and that integers fit a 64-bit integer
// and are exact in a double) and bounds; returns the values flattened in
// storage order. Throws UserError naming the data source and the field:
//   "data.json: field 'N' is missing (declared in the data block as int N)"
//   "data.json: field 'y': expected an array of 10 values, found 9"
//   "data.json: field 'N': expected an integer, found 2.5"
//   "data.json: field 'sigma': value -1 at index [3] is below the declared lower bound 0"
// A scalar must be a JSON number; a container an array of exactly the declared
// dims. A zero-size container may be written as [] at any nesting level. A value
// of an R dump without .Dim (DataValue::r_vector) holding one number fits both a
// scalar and a one-element vector or array.
std::vector<double> check_and_flatten(const DataSet& data, const DeclaredShape& decl);

// Same checks on a value that is already at hand (source names the file).
std::vector<double> check_and_flatten(const DataValue& value, const DeclaredShape& decl,
                                      const std::string& source);

// Reorders values given in JSON nesting order (row-major over all dims) into
// storage order. Exposed for other readers (CSV, IDX) and for tests.
std::vector<double> to_storage_order(const std::vector<double>& row_major,
                                     const std::vector<int64_t>& dims, bool is_matrix_last2);

// The declaration made up from a DeclaredShape ("int N", "array[2, 3] real x").
std::string describe_declaration(const DeclaredShape& decl);

}  // namespace latent
