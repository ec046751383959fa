// CmdStan-style CSV output.
//
//   # latent 0.1.0            <- configuration as comment lines
//   # method = optimize
//   lp__,mu,theta.1,theta.2   <- header
//   -7.3,1.5,0.25,3           <- one row per draw / estimate
//
// Numbers are written in the shortest form that reads back to the same double
// (std::to_chars), non-finite values as inf, -inf and nan (as CmdStan does).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

// CmdStan column names for a variable with Stan-order dims (array dims
// first, then vector/matrix dims), in CmdStan's column order: arrays
// row-major, and within a matrix column-major. is_matrix_last2 says the last
// two dims are a matrix's rows and columns (only they are column-major).
//   ("theta", {3}, false)       -> theta.1, theta.2, theta.3
//   ("m", {2, 2}, true)         -> m.1.1, m.2.1, m.1.2, m.2.2
//   ("a", {2, 2}, false)        -> a.1.1, a.1.2, a.2.1, a.2.2   (array of vectors)
//   ("x", {}, false)            -> x
// This is latent's storage order (see data/check_data.hpp), so a
// variable's values can be written in storage order under these names.
std::vector<std::string> cmdstan_column_names(const std::string& name,
                                              const std::vector<int64_t>& dims,
                                              bool is_matrix_last2);

// Shortest text that reads back to the same double: "0.1", "3", "1e+100",
// "inf", "-inf", "nan".
std::string format_double(double v);

class CsvWriter {
 public:
  // A comment line ("# text"); text with newlines becomes several lines.
  // Comments may come before the header, between rows and after the rows.
  void comment(const std::string& text);
  // The header row; once, before any row.
  void header(const std::vector<std::string>& columns);
  // A row of numbers; as many as header columns.
  void row(const std::vector<double>& values);
  void row(const double* values, size_t count);

  size_t columns() const { return columns_; }
  size_t rows() const { return rows_; }
  const std::string& text() const { return text_; }
  // Writes text() to path with write_file_atomically (throws UserError).
  void save(const std::string& path) const;

 private:
  std::string text_;
  size_t columns_ = 0;
  size_t rows_ = 0;
  bool has_header_ = false;
};

}  // namespace latent
