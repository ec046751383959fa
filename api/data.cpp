// latent::Data: the public face of DataSet (data/json_data.hpp).
#include "api/internal.hpp"
#include "data/data_file.hpp"

#include <cmath>

namespace latent {

namespace {

DataValue make_value(std::vector<double> values, std::vector<int64_t> dims, const std::string& name) {
  if (name.empty()) throw Error("latent::Data::set: empty field name");
  int64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0) throw Error("latent::Data::set: field '" + name + "': negative dimension " + std::to_string(d));
    count *= d;
  }
  if (count != static_cast<int64_t>(values.size()))
    throw Error("latent::Data::set: field '" + name + "': dims hold " + std::to_string(count) + " values, " +
                std::to_string(values.size()) + " given");
  DataValue v;
  v.dims = std::move(dims);
  v.values = std::move(values);
  for (double x : v.values)
    if (!std::isfinite(x) || x != std::floor(x)) {
      v.all_int = false;
      break;
    }
  return v;
}

std::vector<int64_t> default_dims(const std::vector<int64_t>& dims, size_t count) {
  return dims.empty() ? std::vector<int64_t>{static_cast<int64_t>(count)} : dims;
}

}  // namespace

Data::Data() : impl_(std::make_shared<Impl>()) {}

Data Data::from_json_file(const std::string& path) {
  return api::guarded([&] {
    Data d;
    d.impl_->set = DataSet::from_json_file(path);
    return d;
  });
}

Data Data::from_file(const std::string& path) {
  return api::guarded([&] {
    Data d;
    d.impl_->set = read_data_file(path);
    return d;
  });
}

Data Data::from_json_string(const std::string& json, const std::string& source_name) {
  return api::guarded([&] {
    Data d;
    d.impl_->set = DataSet::from_json_string(json, source_name);
    return d;
  });
}

Data::Impl& Data::mutable_impl() {
  if (impl_.use_count() > 1) impl_ = std::make_shared<Impl>(*impl_);  // copy on write
  return *impl_;
}

Data& Data::set(const std::string& name, double value) {
  mutable_impl().set.set(name, make_value({value}, {}, name));
  return *this;
}

Data& Data::set_integer(const std::string& name, int64_t value) {
  DataValue v = make_value({static_cast<double>(value)}, {}, name);
  // Integers beyond 2^53 are not exact in a double: check_data rejects them for int fields.
  mutable_impl().set.set(name, std::move(v));
  return *this;
}

Data& Data::set(const std::string& name, const std::vector<double>& values, const std::vector<int64_t>& dims) {
  mutable_impl().set.set(name, make_value(values, default_dims(dims, values.size()), name));
  return *this;
}

Data& Data::set(const std::string& name, const std::vector<int64_t>& values, const std::vector<int64_t>& dims) {
  std::vector<double> v(values.begin(), values.end());
  mutable_impl().set.set(name, make_value(std::move(v), default_dims(dims, values.size()), name));
  return *this;
}

Data& Data::set(const std::string& name, const std::vector<int>& values, const std::vector<int64_t>& dims) {
  std::vector<double> v(values.begin(), values.end());
  mutable_impl().set.set(name, make_value(std::move(v), default_dims(dims, values.size()), name));
  return *this;
}

bool Data::has(const std::string& name) const { return impl_->set.find(name) != nullptr; }

std::vector<std::string> Data::names() const { return impl_->set.names(); }

size_t Data::size() const { return impl_->set.size(); }

std::string Data::source_name() const { return impl_->set.source(); }

namespace {
const DataValue& field(const DataSet& set, const std::string& name) {
  const DataValue* v = set.find(name);
  if (!v) throw Error(set.source() + ": no field '" + name + "'");
  return *v;
}
}  // namespace

std::vector<int64_t> Data::dims(const std::string& name) const { return field(impl_->set, name).dims; }

std::vector<double> Data::values(const std::string& name) const { return field(impl_->set, name).values; }

}  // namespace latent
