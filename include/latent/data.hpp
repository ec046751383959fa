// latent public API: data for a model's data block (and constrained parameter
// values by name, for unconstrain() and initial points).
//
// A Data is a set of named fields, each a scalar or a rectangular array of
// numbers, exactly what a CmdStan JSON data file holds:
//
//   latent::Data d = latent::Data::from_json_file("data.json");
//   latent::Data e;
//   e.set("N", 3)
//    .set("y", std::vector<double>{1.5, 2, 0.5})                  // dims {3}
//    .set("X", std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});   // a 2 x 3 matrix
//
// Layout of values given in code: ROW-MAJOR over the dims (the last index
// fastest), i.e. the order in which the numbers appear in the nested JSON arrays.
// X above is [[1, 2, 3], [4, 5, 6]]: X[1, 3] == 3. dims are Stan's: array dims
// first, then vector/matrix dims (array[2] matrix[3, 4] -> {2, 3, 4}); {} is a
// scalar; a zero in dims is an empty array.
//
// Nothing is checked against a model here (a field's type, shape and bounds are
// checked when it is bound: Model::bind). Fields not declared by the model are
// ignored. Data has value semantics: copies are independent (and cheap until
// modified). A Data may be read from several threads at once; modifying one
// while another thread reads the same object is a data race.
#pragma once

#include "latent/error.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

namespace latent {

class Model;
class Posterior;

class Data {
 public:
  Data();

  // A CmdStan JSON file / text. Throws Error for a missing or unreadable file,
  // JSON syntax errors (with path:line:column) and content that is not CmdStan
  // JSON (objects, booleans, null, ragged arrays, a name given twice).
  // source_name names the text in messages.
  static Data from_json_file(const std::string& path);
  static Data from_json_string(const std::string& json, const std::string& source_name = "<string>");
  // A CmdStan data file in either format, JSON or R dump (`.data.R`, as rstan's
  // stan_rdump writes it), chosen by the extension or the content as `latent
  // --data` does.
  static Data from_file(const std::string& path);

  // Adds or replaces a field. values are row-major over dims (see above); empty
  // dims for a vector of values means one dimension {values.size()}. Throws Error
  // when the product of dims is not values.size(). Integer-valued fields may be
  // given as doubles with integral values (3.0), as in JSON. Returns *this.
  Data& set(const std::string& name, double value);
  Data& set(const std::string& name, const std::vector<double>& values, const std::vector<int64_t>& dims = {});
  Data& set(const std::string& name, const std::vector<int64_t>& values, const std::vector<int64_t>& dims = {});
  Data& set(const std::string& name, const std::vector<int>& values, const std::vector<int64_t>& dims = {});
  // Integer scalars (int, long, size_t, ...).
  template <class Int, std::enable_if_t<std::is_integral_v<Int> && !std::is_same_v<Int, bool>, int> = 0>
  Data& set(const std::string& name, Int value) {
    return set_integer(name, static_cast<int64_t>(value));
  }

  bool has(const std::string& name) const;
  std::vector<std::string> names() const;                    // sorted
  std::vector<int64_t> dims(const std::string& name) const;  // throws Error when absent
  std::vector<double> values(const std::string& name) const; // row-major; throws Error when absent
  size_t size() const;                                       // number of fields
  bool empty() const { return size() == 0; }

  // The name used in messages ("data.json", "<string>", "<data>" when built in code).
  std::string source_name() const;

  struct Impl;  // implementation detail (the internal data set)

 private:
  friend class Model;
  friend class Posterior;
  Data& set_integer(const std::string& name, int64_t value);
  Impl& mutable_impl();
  std::shared_ptr<Impl> impl_;
};

}  // namespace latent
