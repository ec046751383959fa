// Stan/CmdStan JSON data files.
//
// A data file is one JSON object whose members are the data variables:
//
//   { "N": 3, "y": [1.5, 2, "-inf"], "m": [[1, 2], [3, 4]] }
//
// Each member is a number, one of the strings "inf", "+inf", "-inf",
// "Infinity", "+Infinity", "-Infinity", "NaN" (any case), or nested arrays of
// those. Nested arrays must be rectangular; an empty array `[]` is a dimension
// of length zero. Booleans, null, other strings and objects inside a member are
// errors. A member name given twice is an error (CmdStan would silently keep
// one of them).
//
// Every problem is reported as a latent::UserError with one message naming the
// file (and the field, or the line:column for JSON syntax errors).
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <vector>

namespace latent {

// One data field as written in the file, before it is checked against a
// declaration (see check_data.hpp).
struct DataValue {
  std::vector<int64_t> dims;   // nesting dims of the JSON value, outermost first; {} for a scalar
  std::vector<double> values;  // flattened in JSON nesting order (row-major: last index fastest)
  // Every number is integer-valued: an integer literal, or a real literal
  // with an integral finite value such as 3.0 (Python's json.dump writes
  // those). Non-finite strings make this false.
  bool all_int = true;
  // Read from an R dump without `.Dim`: R has no scalars, so a single value also
  // fits a declared container of one element, and a vector of one a scalar.
  bool r_vector = false;

  int64_t size() const { return static_cast<int64_t>(values.size()); }
};

class DataSet {
 public:
  DataSet() = default;
  // source_name names the data in messages (a path, or e.g. "<data>").
  explicit DataSet(std::string source_name) : source_(std::move(source_name)) {}

  // Reads and parses a file. Throws UserError for a missing/unreadable/empty
  // file, binary content, JSON syntax errors (with path:line:column) and data
  // that is not CmdStan JSON.
  static DataSet from_json_file(const std::string& path, const std::string& kind = "data file");  // kind: in messages
  // Parses JSON text; source_name is used in messages (e.g. "data.json",
  // "<string>").
  static DataSet from_json_string(const std::string& text, const std::string& source_name);

  const DataValue* find(const std::string& name) const;  // nullptr if absent
  const std::string& source() const { return source_; }  // the path, for messages
  std::vector<std::string> names() const;                // sorted by name
  bool empty() const { return fields_.empty(); }
  size_t size() const { return fields_.size(); }

  // Adds or replaces a field (for data built in code, e.g. by the embedding
  // API or by other readers).
  void set(const std::string& name, DataValue value);

 private:
  std::string source_ = "<data>";
  std::map<std::string, DataValue> fields_;
};

// Rejects UTF-16 and binary content from the first bytes of a data file's text
// (`what` names the text expected: "a JSON text file", "an R dump text file").
void check_text_head(const std::string& head, const std::string& source_name,
                     const std::string& what = "a JSON text file");

// The text of an exception from nlohmann::json without its "[json.exception.x.n] "
// prefix ("parse error at line 1, column 4: syntax error while parsing value - ..."),
// for messages about other JSON files (init, fit files, --unconstrained).
std::string json_error_text(const std::exception& e);

// from_json_string's slow path alone (nlohmann's parser feeding the same
// handler): what the fast path (simdjson) is tested against.
DataSet json_data_by_nlohmann(const std::string& text, const std::string& source_name);

}  // namespace latent
