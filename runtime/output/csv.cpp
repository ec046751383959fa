// CmdStan-style CSV output. See csv.hpp.
#include "runtime/output/csv.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

#include "runtime/output/atomic_file.hpp"

namespace latent {

std::vector<std::string> cmdstan_column_names(const std::string& name,
                                              const std::vector<int64_t>& dims,
                                              bool is_matrix_last2) {
  if (dims.empty()) return {name};
  int64_t total = 1;
  for (int64_t d : dims) {
    if (d < 0) throw std::invalid_argument("cmdstan_column_names: negative dimension");
    total *= d;
  }
  std::vector<std::string> names;
  names.reserve(static_cast<size_t>(total));
  if (total == 0) return names;

  // Odometer over the indexes in column order: the fastest-moving index is the
  // last one, except for a matrix, where rows move fastest.
  const size_t k = dims.size();
  const bool matrix = is_matrix_last2 && k >= 2;
  std::vector<size_t> order(k);  // order[0] = fastest
  for (size_t i = 0; i < k; ++i) order[i] = k - 1 - i;
  if (matrix) std::swap(order[0], order[1]);

  std::vector<int64_t> idx(k, 0);
  for (int64_t n = 0; n < total; ++n) {
    std::string s = name;
    for (size_t i = 0; i < k; ++i) {
      s += '.';
      s += std::to_string(idx[i] + 1);
    }
    names.push_back(std::move(s));
    for (size_t j = 0; j < k; ++j) {
      size_t d = order[j];
      if (++idx[d] < dims[d]) break;
      idx[d] = 0;
    }
  }
  return names;
}

std::string format_double(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

void CsvWriter::comment(const std::string& text) {
  size_t start = 0;
  while (true) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    text_ += line.empty() ? "#\n" : "# " + line + "\n";
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
}

void CsvWriter::header(const std::vector<std::string>& columns) {
  if (has_header_) throw std::logic_error("CsvWriter: header written twice");
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) text_ += ',';
    text_ += columns[i];
  }
  text_ += '\n';
  columns_ = columns.size();
  has_header_ = true;
}

void CsvWriter::row(const std::vector<double>& values) { row(values.data(), values.size()); }

void CsvWriter::row(const double* values, size_t count) {
  if (!has_header_) throw std::logic_error("CsvWriter: row before header");
  if (count != columns_)
    throw std::logic_error("CsvWriter: row has " + std::to_string(count) + " values, header has " +
                           std::to_string(columns_) + " columns");
  for (size_t i = 0; i < count; ++i) {
    if (i) text_ += ',';
    text_ += format_double(values[i]);
  }
  text_ += '\n';
  ++rows_;
}

void CsvWriter::save(const std::string& path) const { write_file_atomically(path, text_); }

}  // namespace latent
