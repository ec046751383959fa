// Validating data fields against their declarations. See check_data.hpp.
#include "data/check_data.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/source.hpp"

namespace latent {

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string dims_list(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(dims[i]);
  }
  return s;
}

// "a single number", "an array of 9 values", "an array with dims [2, 3]".
std::string describe_shape(const std::vector<int64_t>& dims) {
  if (dims.empty()) return "a single number";
  if (dims.size() == 1)
    return "an array of " + std::to_string(dims[0]) + (dims[0] == 1 ? " value" : " values");
  return "an array with dims [" + dims_list(dims) + "]";
}

// Product of dims, saturating at INT64_MAX (declared sizes come from data).
int64_t product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d == 0) return 0;
    if (__builtin_mul_overflow(n, d, &n)) n = INT64_MAX;
  }
  return n;
}

// Stan-style 1-based index of a row-major position over dims: "[2, 3]".
std::string stan_index(int64_t pos, const std::vector<int64_t>& dims) {
  std::vector<int64_t> idx(dims.size());
  for (size_t k = dims.size(); k-- > 0;) {
    idx[k] = pos % dims[k] + 1;
    pos /= dims[k];
  }
  return "[" + dims_list(idx) + "]";
}

// A zero-size declared container may be given as [] at any nesting level:
// the JSON dims must follow the declared ones until a 0 ends them.
bool empty_matches(const std::vector<int64_t>& found, const std::vector<int64_t>& declared) {
  if (found.empty() || found.size() > declared.size()) return false;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i] == declared[i]) continue;
    if (found[i] == 0 && i + 1 == found.size()) continue;
    return false;
  }
  return found.back() == 0 || product(found) == 0;
}

}  // namespace

std::string describe_declaration(const DeclaredShape& decl) {
  if (!decl.declared_as.empty()) return decl.declared_as;
  std::string bounds;
  if (decl.lower || decl.upper) {
    bounds = "<";
    if (decl.lower) bounds += "lower=" + number(*decl.lower);
    if (decl.lower && decl.upper) bounds += ", ";
    if (decl.upper) bounds += "upper=" + number(*decl.upper);
    bounds += ">";
  }
  const std::string base = decl.is_int ? "int" : "real";
  if (decl.dims.empty()) return base + bounds + " " + decl.name;
  if (decl.is_int) return "array[" + dims_list(decl.dims) + "] int" + bounds + " " + decl.name;
  if (decl.is_matrix_last2 && decl.dims.size() >= 2) {
    std::vector<int64_t> arr(decl.dims.begin(), decl.dims.end() - 2);
    std::string m = "matrix" + bounds + "[" + std::to_string(decl.dims[decl.dims.size() - 2]) +
                    ", " + std::to_string(decl.dims.back()) + "]";
    if (!arr.empty()) m = "array[" + dims_list(arr) + "] " + m;
    return m + " " + decl.name;
  }
  // Vector or array of reals: the shape is what matters here.
  return base + bounds + "[" + dims_list(decl.dims) + "] " + decl.name;
}

std::vector<double> to_storage_order(const std::vector<double>& row_major,
                                     const std::vector<int64_t>& dims, bool is_matrix_last2) {
  if (!is_matrix_last2 || dims.size() < 2) return row_major;
  const int64_t rows = dims[dims.size() - 2];
  const int64_t cols = dims.back();
  const int64_t block = rows * cols;
  std::vector<double> out(row_major.size());
  if (block == 0) return out;
  const int64_t elements = static_cast<int64_t>(row_major.size()) / block;
  for (int64_t e = 0; e < elements; ++e) {
    const double* src = row_major.data() + e * block;
    double* dst = out.data() + e * block;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
  return out;
}

namespace {

// Simplexes and Cholesky factors of correlation matrices, in the user's (row-major) order.
void check_structure(const std::vector<double>& v, const DeclaredShape& decl, const std::string& where) {
  using S = DeclaredShape::Structure;
  constexpr double tolerance = 1e-8;  // Stan's CONSTRAINT_TOLERANCE
  if (decl.structure == S::None || decl.dims.empty()) return;
  const bool vectors = decl.structure != S::CholeskyFactorCorr;
  const bool many = decl.dims.size() > (vectors ? 1u : 2u);
  // "" for a single one, " at index [2]" for one of an array.
  auto which = [&](size_t first, size_t per) {
    if (!many) return std::string();
    std::vector<int64_t> outer(decl.dims.begin(), decl.dims.end() - (vectors ? 1 : 2));
    return " (element " + stan_index(static_cast<int64_t>(first / per), outer) + " of the array)";
  };
  if (decl.structure == S::Simplex) {
    const size_t k = static_cast<size_t>(decl.dims.back());
    if (k == 0) return;
    for (size_t s = 0; s + k <= v.size(); s += k) {
      double sum = 0;
      for (size_t i = 0; i < k; ++i) {
        if (!(v[s + i] >= 0))
          throw UserError(where + "a simplex must be non-negative, but entry " + std::to_string(i + 1) + " is " +
                          number(v[s + i]) + which(s, k));
        sum += v[s + i];
      }
      if (!(std::fabs(sum - 1) <= tolerance))
        throw UserError(where + "a simplex must sum to 1, but this one sums to " + number(sum) + which(s, k));
    }
    return;
  }
  if (decl.structure == S::UnitVector || decl.structure == S::SumToZero) {
    const size_t k = static_cast<size_t>(decl.dims.back());
    const bool unit = decl.structure == S::UnitVector;
    for (size_t s = 0; k > 0 && s + k <= v.size(); s += k) {
      double total = 0;
      for (size_t i = 0; i < k; ++i) total += unit ? v[s + i] * v[s + i] : v[s + i];
      if (unit && !(std::fabs(total - 1) <= tolerance))
        throw UserError(where + "a unit_vector must have length 1, but the sum of the squares of its elements is " +
                        number(total) + which(s, k));
      if (!unit && !(std::fabs(total) <= tolerance))
        throw UserError(where + "a sum_to_zero_vector must sum to 0, but this one sums to " + number(total) +
                        which(s, k));
    }
    return;
  }
  if (decl.structure == S::Ordered || decl.structure == S::PositiveOrdered) {
    const size_t k = static_cast<size_t>(decl.dims.back());
    const bool positive = decl.structure == S::PositiveOrdered;
    for (size_t s = 0; k > 0 && s + k <= v.size(); s += k)
      for (size_t i = 0; i < k; ++i) {
        if (positive && i == 0 && !(v[s] > 0))
          throw UserError(where + "a positive_ordered vector must be positive, but entry 1 is " + number(v[s]) +
                          which(s, k));
        if (i > 0 && !(v[s + i] > v[s + i - 1]))
          throw UserError(where + "an ordered vector must be strictly increasing, but entry " + std::to_string(i + 1) +
                          " is " + number(v[s + i]) + " after " + number(v[s + i - 1]) + which(s, k));
      }
    return;
  }
  const size_t n = static_cast<size_t>(decl.dims.back());
  if (n == 0) return;
  for (size_t s = 0; s + n * n <= v.size(); s += n * n) {
    for (size_t r = 0; r < n; ++r) {
      double norm = 0;
      for (size_t c = 0; c < n; ++c) {
        const double x = v[s + r * n + c];
        const std::string at = " at [" + std::to_string(r + 1) + ", " + std::to_string(c + 1) + "]";
        if (c > r && x != 0)
          throw UserError(where + "a Cholesky factor must be lower triangular, but the value" + at + " is " +
                          number(x) + which(s, n * n));
        if (c == r && !(x > 0))
          throw UserError(where + "a Cholesky factor must have a positive diagonal, but the value" + at + " is " +
                          number(x) + which(s, n * n));
        norm += x * x;
      }
      if (!(std::fabs(norm - 1) <= tolerance))
        throw UserError(where + "each row of the Cholesky factor of a correlation matrix must have length 1, but row " +
                        std::to_string(r + 1) + " has squared length " + number(norm) + which(s, n * n));
    }
  }
}

}  // namespace

std::vector<double> check_and_flatten(const DataValue& value, const DeclaredShape& decl,
                                      const std::string& source) {
  const std::string where = source + ": field '" + decl.name + "': ";
  for (int64_t d : decl.dims) {
    if (d < 0)
      throw UserError(where + "declared size " + std::to_string(d) + " is negative (dims [" +
                      dims_list(decl.dims) + "])");
  }

  // --- shape ------------------------------------------------------------------
  const int64_t declared_size = product(decl.dims);
  // R has no scalars: `y <- 3` is how stan_rdump writes a vector of length one.
  const bool r_length_one = value.r_vector && value.values.size() == 1 &&
                            ((decl.dims.empty() && value.dims.size() == 1) ||
                             (value.dims.empty() && decl.dims.size() == 1 && decl.dims[0] == 1));
  if (value.dims != decl.dims && !r_length_one) {
    const bool ok_empty = declared_size == 0 && value.values.empty() &&
                          empty_matches(value.dims, decl.dims);
    if (!ok_empty) {
      if (decl.dims.size() == 1 && value.dims.size() == 1)
        throw UserError(where + "expected " + describe_shape(decl.dims) + ", found " +
                        std::to_string(value.dims[0]));
      throw UserError(where + "expected " + describe_shape(decl.dims) + ", found " +
                      describe_shape(value.dims));
    }
    return {};
  }

  // --- values: integrality and bounds, in the user's (row-major) order ---------
  const bool scalar = decl.dims.empty();
  auto at = [&](size_t i) { return scalar ? std::string() : " at index " + stan_index(i, decl.dims); };
  constexpr double two53 = 9007199254740992.0;        // 2^53
  for (size_t i = 0; i < value.values.size(); ++i) {
    const double v = value.values[i];
    if (decl.is_int) {
      if (!std::isfinite(v) || v != std::floor(v))
        throw UserError(where + "expected an integer" + at(i) + ", found " + number(v));
      if (std::fabs(v) > two53) {
        // The number read is already rounded to a double: show its magnitude, not
        // digits that the file may not hold (9223372036854775807 reads as 2^63).
        char about[32];
        std::snprintf(about, sizeof about, "%.3g", v);
        throw UserError(where + "integer" + at(i) + " is too large (about " + about +
                        "): data are stored as doubles, which hold integers exactly only up to 2^53 = "
                        "9007199254740992");
      }
    }
    if (decl.lower && !(v >= *decl.lower)) {
      if (std::isnan(v))
        throw UserError(where + "value NaN" + at(i) + " is not allowed: the declared lower bound is " +
                        number(*decl.lower));
      throw UserError(where + "value " + number(v) + at(i) + " is below the declared lower bound " +
                      number(*decl.lower));
    }
    if (decl.upper && !(v <= *decl.upper)) {
      if (std::isnan(v))
        throw UserError(where + "value NaN" + at(i) + " is not allowed: the declared upper bound is " +
                        number(*decl.upper));
      throw UserError(where + "value " + number(v) + at(i) + " is above the declared upper bound " +
                      number(*decl.upper));
    }
  }
  check_structure(value.values, decl, where);
  return to_storage_order(value.values, decl.dims, decl.is_matrix_last2);
}

std::vector<double> check_and_flatten(const DataSet& data, const DeclaredShape& decl) {
  const DataValue* value = data.find(decl.name);
  if (value == nullptr)
    throw UserError(data.source() + ": field '" + decl.name +
                    "' is missing (declared in the data block as " + describe_declaration(decl) +
                    ")");
  return check_and_flatten(*value, decl, data.source());
}

}  // namespace latent
