#include "data/draws_csv.hpp"

#include "common/source.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace latent {

int64_t DrawsTable::column(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i] == name) return static_cast<int64_t>(i);
  return -1;
}

namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::stringstream s(line);
  while (std::getline(s, field, ',')) out.push_back(field);
  if (!line.empty() && line.back() == ',') out.push_back("");
  return out;
}

}  // namespace

DrawsTable parse_draws_csv(const std::string& text, const std::string& source) {
  DrawsTable t;
  t.source = source;
  std::stringstream lines(text);
  std::string line;
  int64_t number = 0;
  auto fail = [&](const std::string& why) { throw UserError(source + ":" + std::to_string(number) + ": " + why + "\n"); };
  while (std::getline(lines, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> fields = split_fields(line);
    if (t.columns.empty()) {
      t.columns = fields;
      continue;
    }
    if (fields.size() != t.columns.size())
      fail("a row of " + std::to_string(fields.size()) + " fields, the header has " + std::to_string(t.columns.size()));
    std::vector<double> row;
    row.reserve(fields.size());
    for (size_t i = 0; i < fields.size(); ++i) {
      const char* begin = fields[i].c_str();
      char* end = nullptr;
      double v = std::strtod(begin, &end);
      if (end == begin || *end != '\0') fail("column '" + t.columns[i] + "': '" + fields[i] + "' is not a number");
      row.push_back(v);
    }
    t.rows.push_back(std::move(row));
  }
  if (t.columns.empty()) throw UserError(source + ": no header line (a CmdStan CSV file of draws was expected)\n");
  return t;
}

DrawsTable read_draws_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(path + ": cannot read the draws file\n");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_draws_csv(text.str(), path);
}

DataValue variable_in_row(const DrawsTable& table, size_t row, const std::string& name,
                          const std::vector<int64_t>& dims) {
  DataValue v;
  v.dims = dims;
  v.all_int = false;
  int64_t size = 1;
  for (int64_t d : dims) size *= d;
  v.values.assign(static_cast<size_t>(size), 0.0);
  // Walk the indexes column-major (CmdStan's order) and store row-major.
  std::vector<int64_t> idx(dims.size(), 0);
  for (int64_t k = 0; k < size; ++k) {
    std::string column = name;
    int64_t row_major = 0;
    for (size_t d = 0; d < dims.size(); ++d) {
      column += "." + std::to_string(idx[d] + 1);
      row_major = row_major * dims[d] + idx[d];
    }
    int64_t c = table.column(column);
    if (c < 0) throw UserError(table.source + ": no column '" + column + "' (for '" + name + "')\n");
    v.values[static_cast<size_t>(row_major)] = table.rows.at(row).at(static_cast<size_t>(c));
    for (size_t d = 0; d < dims.size() && ++idx[d] == dims[d]; ++d) idx[d] = 0;
  }
  return v;
}

}  // namespace latent
