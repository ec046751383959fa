#include "data/data_source.hpp"

#include "common/source.hpp"

namespace latent {

DataValue DataSource::read(const std::string& name) const {
  DataValue v;
  v.dims = dims(name);
  v.all_int = is_int(name);
  if (v.dims.empty()) {
    // A scalar is read as a one-row field.
    v.values.resize(1);
    int64_t row = 0;
    read_rows(name, &row, 1, v.values.data());
    return v;
  }
  int64_t n = v.dims[0];
  std::vector<int64_t> rows(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
  int64_t row_size = 1;
  for (size_t k = 1; k < v.dims.size(); ++k) row_size *= v.dims[k];
  v.values.resize(static_cast<size_t>(n * row_size));
  if (n > 0) read_rows(name, rows.data(), n, v.values.data());
  return v;
}

DataSet DataSource::view(const std::vector<std::string>& fields, const std::vector<std::string>& row_subset_fields,
                         const std::vector<int64_t>& rows) const {
  DataSet out(source());
  for (const std::string& name : fields) {
    if (!has(name)) continue;  // reported by the data checks when the model is lowered
    bool subset = false;
    for (auto& f : row_subset_fields) subset |= f == name;
    if (!subset) {
      out.set(name, read(name));
      continue;
    }
    DataValue v;
    v.dims = dims(name);
    v.all_int = is_int(name);
    int64_t row_size = 1;
    for (size_t k = 1; k < v.dims.size(); ++k) row_size *= v.dims[k];
    v.dims[0] = static_cast<int64_t>(rows.size());
    v.values.resize(rows.size() * static_cast<size_t>(row_size));
    if (!rows.empty()) read_rows(name, rows.data(), static_cast<int64_t>(rows.size()), v.values.data());
    out.set(name, std::move(v));
  }
  return out;
}

const DataValue& JsonDataSource::field(const std::string& name) const {
  const DataValue* v = data_.find(name);
  if (!v) throw UserError(data_.source() + ": field '" + name + "' is missing\n");
  return *v;
}

std::vector<int64_t> JsonDataSource::dims(const std::string& name) const { return field(name).dims; }

bool JsonDataSource::is_int(const std::string& name) const { return field(name).all_int; }

void JsonDataSource::read_rows(const std::string& name, const int64_t* rows, int64_t count, double* out) const {
  const DataValue& v = field(name);
  if (v.dims.empty()) {
    out[0] = v.values.at(0);
    return;
  }
  size_t row_size = v.dims[0] ? v.values.size() / static_cast<size_t>(v.dims[0]) : 0;
  for (int64_t i = 0; i < count; ++i) {
    auto begin = v.values.begin() + static_cast<long>(static_cast<size_t>(rows[i]) * row_size);
    std::copy(begin, begin + static_cast<long>(row_size), out + static_cast<size_t>(i) * row_size);
  }
}

}  // namespace latent
