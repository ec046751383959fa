// Where a model's data comes from: a CmdStan JSON or R dump file, IDX files (the
// MNIST/Fashion-MNIST format) or a named data set (`fashion-mnist`,
// `fashion-mnist:test`).
//
// A source is read row by row along a field's first dimension, so that a
// minibatch fit can gather a batch of rows of a large data set without
// holding the whole set as doubles (an image set stays as its bytes).
#pragma once

#include "data/json_data.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace latent {

class DataSource {
 public:
  virtual ~DataSource() = default;

  // Names the data in messages: a path, or e.g. "fashion-mnist:train".
  virtual const std::string& source() const = 0;
  virtual std::vector<std::string> names() const = 0;  // sorted
  virtual bool has(const std::string& name) const = 0;
  // A field's dims, outermost first as in JSON ({} for a scalar), and whether
  // every value is an integer.
  virtual std::vector<int64_t> dims(const std::string& name) const = 0;
  virtual bool is_int(const std::string& name) const = 0;
  // Values of rows `rows[0..count)` along the field's first dimension, each row
  // row-major (JSON nesting order), rows one after another. The field must have
  // at least one dimension; rows are 0-based and in range.
  virtual void read_rows(const std::string& name, const int64_t* rows, int64_t count, double* out) const = 0;

  // The whole field (for scalars and small fields; a big image field costs
  // its size in doubles).
  virtual DataValue read(const std::string& name) const;
  // The fields named in `fields` that the source has, as a DataSet, those also
  // named in `row_subset_fields` restricted to `rows` (the batch view a
  // minibatch objective is compiled against). Fields a model does not declare
  // are not read: an image set's other pixel field would cost its size in doubles.
  DataSet view(const std::vector<std::string>& fields, const std::vector<std::string>& row_subset_fields,
               const std::vector<int64_t>& rows) const;
};

// A JSON data set held in memory.
class JsonDataSource : public DataSource {
 public:
  explicit JsonDataSource(DataSet data) : data_(std::move(data)) {}
  const std::string& source() const override { return data_.source(); }
  std::vector<std::string> names() const override { return data_.names(); }
  bool has(const std::string& name) const override { return data_.find(name) != nullptr; }
  std::vector<int64_t> dims(const std::string& name) const override;
  bool is_int(const std::string& name) const override;
  void read_rows(const std::string& name, const int64_t* rows, int64_t count, double* out) const override;
  DataValue read(const std::string& name) const override { return field(name); }  // as read (DataValue::r_vector)
  const DataSet& data() const { return data_; }

 private:
  const DataValue& field(const std::string& name) const;
  DataSet data_;
};

// Opens `spec`: "fashion-mnist" / "fashion-mnist:train" / "fashion-mnist:test"
// (Debian's dataset-fashion-mnist), a path to an IDX image file
// (*-idx3-ubyte or *-idx3-ubyte.gz), or a path to a JSON or R dump file
// (data_file.hpp).
// Throws UserError naming the spec for anything missing or malformed.
std::unique_ptr<DataSource> open_data_source(const std::string& spec);

}  // namespace latent
