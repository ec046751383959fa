// Stan/CmdStan JSON data files: a SAX-style reader.
//
// The Handler below receives the document as events (a key, an array opens, a
// number, ...), writes numbers straight into the flat DataValue, checks
// rectangularity as arrays close, and reports the first problem with the
// element's index path. Two parsers feed it:
//  - simdjson (a 10 MB file of numbers: 19 ms against ~130 ms for nlohmann) parses and
//    validates the whole text, then walk() replays its tree as events;
//  - nlohmann's SAX parser, only when simdjson rejects the text, because it
//    tells where a syntax error is (line and column) and simdjson does not.
// Either way the same handler sees the same events in the same order, so a
// file gets the same values and the same messages from both.
#include "data/json_data.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>
#include <simdjson.h>

#include "common/read_file.hpp"
#include "common/source.hpp"

namespace latent {

namespace {

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The strings CmdStan accepts for non-finite reals (case-insensitive).
std::optional<double> nonfinite_string(const std::string& s) {
  const std::string l = lower_ascii(s);
  constexpr double inf = std::numeric_limits<double>::infinity();
  if (l == "inf" || l == "+inf" || l == "infinity" || l == "+infinity") return inf;
  if (l == "-inf" || l == "-infinity") return -inf;
  if (l == "nan" || l == "+nan" || l == "-nan") return std::numeric_limits<double>::quiet_NaN();
  return std::nullopt;
}

// "3" for one index, "[2, 3]" for several (1-based, Stan style).
std::string index_path(const std::vector<int64_t>& idx) {
  if (idx.size() == 1) return std::to_string(idx[0]);
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(idx[i]);
  }
  return s + "]";
}

std::string entries(int64_t n) { return std::to_string(n) + (n == 1 ? " entry" : " entries"); }

// nlohmann's messages start with "[json.exception.parse_error.101] parse error
// at line 1, column 10: "; keep what follows.
std::string strip_nlohmann_prefix(const std::string& what) {
  std::string s = what;
  if (!s.empty() && s[0] == '[') {
    auto close = s.find("] ");
    if (close != std::string::npos) s = s.substr(close + 2);
  }
  if (s.rfind("parse error", 0) == 0) {
    auto colon = s.find(": ");
    if (colon != std::string::npos) s = s.substr(colon + 2);
  }
  return s;
}

using json = nlohmann::json;

// Deeper arrays are rejected as they open (a value nested 10^5 deep would otherwise
// be reported with its whole index path).
constexpr size_t kMaxNesting = 32;

class Handler : public nlohmann::json_sax<json> {
 public:
  Handler(const std::string& text, const std::string& source, DataSet& out)
      : text_(text), source_(source), out_(out) {}

  const std::string& error() const { return error_; }

  // The next field's number of values, when the parser knows it: one
  // allocation instead of a vector doubling its way up (and copying) to 10^6.
  void expect_values(size_t n) { value_.values.reserve(n); }
  size_t text_size() const { return text_.size(); }

  bool null() override { return bad_leaf("null"); }
  bool boolean(bool v) override { return bad_leaf(v ? "the boolean true" : "the boolean false"); }
  bool number_integer(number_integer_t v) override { return leaf(static_cast<double>(v), true); }
  bool number_unsigned(number_unsigned_t v) override { return leaf(static_cast<double>(v), true); }
  bool number_float(number_float_t v, const string_t&) override {
    return leaf(v, std::isfinite(v) && v == std::floor(v));
  }
  bool string(string_t& s) override {
    if (state_ == State::kExpectRoot) return not_an_object("a string");
    if (auto v = nonfinite_string(s)) return leaf(*v, false);
    std::string shown = s.size() > 40 ? s.substr(0, 40) + "..." : s;
    return field_error(where_next() + " is the string \"" + shown +
                       "\", expected a number (the only strings allowed are \"inf\", "
                       "\"-inf\" and \"NaN\")");
  }
  bool binary(binary_t&) override { return fail("unexpected binary value"); }

  bool start_object(std::size_t) override {
    if (state_ == State::kExpectRoot) {
      state_ = State::kInRoot;
      return true;
    }
    if (state_ == State::kExpectValue && counts_.empty())
      return field_error("is a JSON object; data fields must be numbers or arrays of numbers");
    return field_error(where_next() + " is a JSON object, expected a number");
  }
  bool key(string_t& name) override {
    if (out_.find(name) != nullptr)
      return fail("field '" + cap_text(name, 100) + "' appears twice");
    field_ = name;
    value_ = DataValue{};
    kinds_.clear();
    dims_.clear();
    counts_.clear();
    state_ = State::kExpectValue;
    return true;
  }
  bool end_object() override {
    state_ = State::kDone;
    return true;
  }
  bool start_array(std::size_t) override {
    if (state_ == State::kExpectRoot) return not_an_object("an array");
    const size_t level = counts_.size();
    if (level >= kMaxNesting)
      return field_error("arrays are nested more than " + std::to_string(kMaxNesting) +
                         " deep (no declared type has that many dimensions)");
    if (!begin_element(level)) return false;
    if (kinds_[level] == Kind::kLeaf)
      return field_error(element(counts_) + " is an array, expected a number (arrays are not "
                                            "equally nested)");
    kinds_[level] = Kind::kArray;
    counts_.push_back(0);
    return true;
  }
  bool end_array() override {
    const size_t level = counts_.size() - 1;
    const int64_t n = counts_.back();
    if (dims_[level] < 0) {
      dims_[level] = n;
    } else if (dims_[level] != n) {
      std::vector<int64_t> path(counts_.begin(), counts_.end() - 1);
      return field_error("ragged array (" + element(path) + " has " + entries(n) + ", expected " +
                         std::to_string(dims_[level]) + ")");
    }
    counts_.pop_back();
    if (counts_.empty()) return finish_field();
    return true;
  }

  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& ex) override {
    // nlohmann reports the end of the offending token; point at its start
    // when the token is one complete string literal or one word/number
    // (its token text sometimes also holds earlier characters: "2,,").
    size_t at = position == 0 ? 0 : position - 1;
    const bool string_literal = last_token.size() >= 2 && last_token.front() == '"' &&
                                last_token.back() == '"' &&
                                last_token.find('"', 1) == last_token.size() - 1;
    const bool word = !last_token.empty() &&
                      std::all_of(last_token.begin(), last_token.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                               c == '+' || c == '-';
                      });
    const bool plain = string_literal || word;
    if (plain && last_token.size() <= position &&
        text_.compare(position - last_token.size(), last_token.size(), last_token) == 0)
      at = position - last_token.size();
    std::string what = strip_nlohmann_prefix(ex.what());
    if (what.find("invalid literal") != std::string::npos) {
      // A bad word (tru, nul, trailing text): nlohmann's token text runs from
      // earlier characters to one past the word. Point at the word and quote it.
      auto alnum = [&](size_t i) { return i < text_.size() && std::isalnum(static_cast<unsigned char>(text_[i])); };
      size_t end = std::min(position, text_.size());
      while (end > 0 && !alnum(end - 1)) --end;
      size_t start = end;
      while (start > 0 && alnum(start - 1)) --start;
      size_t word_end = end;
      while (alnum(word_end) && word_end - start < 40) ++word_end;
      if (start < word_end) {
        at = start;
        const bool after_end = what.find("expected end of input") != std::string::npos;
        what = "invalid literal '" + text_.substr(start, word_end - start) + "'" +
               (after_end ? ": text after the end of the JSON object"
                          : " (expected a number, a string such as \"inf\", an array or an object)");
      }
    }
    const auto [line, column] = location_of(text_, at);
    if (ex.id == 406) what = "number out of range: " + what + " (write \"inf\" for infinity)";
    error_ = source_ + ":" + std::to_string(line) + ":" + std::to_string(column) +
             ": JSON syntax error: " + what;
    return false;
  }

 private:
  enum class State { kExpectRoot, kInRoot, kExpectValue, kDone };
  enum class Kind { kUnknown, kArray, kLeaf };

  bool fail(const std::string& message) {
    if (error_.empty()) error_ = source_ + ": " + message;
    return false;
  }
  bool field_error(const std::string& message) {
    return fail("field '" + cap_text(field_, 100) + "': " + message);
  }
  bool not_an_object(const std::string& found) {
    return fail("the top level must be a JSON object ({\"name\": value, ...}), found " + found);
  }

  // Index path of the element about to be added (before counting it).
  std::vector<int64_t> next_path() const {
    std::vector<int64_t> p(counts_.begin(), counts_.end());
    if (!p.empty()) ++p.back();
    return p;
  }
  static std::string element(const std::vector<int64_t>& path) {
    return path.empty() ? "the value" : "element " + index_path(path);
  }
  std::string where_next() const { return element(next_path()); }

  // Counts a new element at `level` (0 = the field value itself).
  bool begin_element(size_t level) {
    if (state_ != State::kExpectValue) return fail("unexpected value outside of a field");
    if (kinds_.size() <= level) {
      kinds_.resize(level + 1, Kind::kUnknown);
      dims_.resize(level + 1, -1);
    }
    if (!counts_.empty()) ++counts_.back();
    return true;
  }

  bool bad_leaf(const std::string& what) {
    if (state_ == State::kExpectRoot) return not_an_object(what);
    if (state_ == State::kExpectValue && counts_.empty())
      return field_error("is " + what + ", expected a number or an array of numbers");
    return field_error(where_next() + " is " + what + ", expected a number");
  }

  bool leaf(double v, bool integral) {
    if (state_ == State::kExpectRoot) return not_an_object("a number");
    const size_t level = counts_.size();
    if (!begin_element(level)) return false;  // counts_ now holds this element's path
    if (kinds_[level] == Kind::kArray)
      return field_error(element(counts_) + " is a number, expected an array (arrays are not "
                                            "equally nested)");
    kinds_[level] = Kind::kLeaf;
    value_.values.push_back(v);
    if (!integral) value_.all_int = false;
    if (counts_.empty()) return finish_field();
    return true;
  }

  bool finish_field() {
    for (size_t l = 0; l < kinds_.size() && kinds_[l] == Kind::kArray; ++l)
      value_.dims.push_back(dims_[l]);
    int64_t total = 1;
    for (int64_t d : value_.dims) total *= d;
    if (total != value_.size())  // cannot happen given the checks above
      return field_error("inconsistent array nesting");
    out_.set(field_, std::move(value_));
    value_ = DataValue{};
    state_ = State::kInRoot;
    return true;
  }

  const std::string& text_;
  const std::string& source_;
  DataSet& out_;
  std::string error_;
  State state_ = State::kExpectRoot;
  std::string field_;
  DataValue value_;
  std::vector<Kind> kinds_;     // per nesting level: array or number
  std::vector<int64_t> dims_;   // per array level: its length (-1 until the first one closes)
  std::vector<int64_t> counts_; // elements so far in each open array
};

// True when the text looks like binary data rather than JSON text.
bool looks_binary(const std::string& text) {
  const size_t n = std::min<size_t>(text.size(), 4096);
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == 0) return true;
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') return true;
  }
  return false;
}

}  // namespace

void check_text_head(const std::string& text, const std::string& source_name, const std::string& what) {
  if (text.size() >= 2 && ((text[0] == '\xFF' && text[1] == '\xFE') ||
                           (text[0] == '\xFE' && text[1] == '\xFF')))
    throw UserError(source_name + ": the file is UTF-16 encoded; save it as UTF-8");
  if (looks_binary(text))
    throw UserError(source_name + ": not " + what + " (it contains binary data)");
}

namespace {

// The number of values of a rectangular array: its length times its first
// element's, and so on down (an overestimate for a ragged one, which the
// handler rejects).
size_t rectangular_size(simdjson::dom::element e) {
  size_t n = 1;
  while (e.type() == simdjson::dom::element_type::ARRAY) {
    simdjson::dom::array a = e.get_array().value_unsafe();
    n *= a.size();
    if (a.size() == 0) break;
    e = a.at(0).value_unsafe();
  }
  return n;
}

// Replays a parsed simdjson tree to the handler, in document order, as
// nlohmann's SAX parser would; false when the handler stopped. Nesting is
// bounded by the handler (kMaxNesting) before the recursion gets deep.
bool walk(simdjson::dom::element e, Handler& h) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object object = e.get_object().value_unsafe();
      if (!h.start_object(object.size())) return false;
      for (simdjson::dom::key_value_pair field : object) {
        std::string key(field.key);
        if (!h.key(key)) return false;
        // At most one value per two characters of the file: a reservation no
        // larger than what the text can hold, whatever the first elements say.
        h.expect_values(std::min(rectangular_size(field.value), h.text_size() / 2 + 1));
        if (!walk(field.value, h)) return false;
      }
      return h.end_object();
    }
    case element_type::ARRAY: {
      simdjson::dom::array array = e.get_array().value_unsafe();
      if (!h.start_array(array.size())) return false;
      for (simdjson::dom::element item : array)
        if (!walk(item, h)) return false;
      return h.end_array();
    }
    case element_type::INT64: return h.number_integer(e.get_int64().value_unsafe());
    case element_type::UINT64: return h.number_unsigned(e.get_uint64().value_unsafe());
    case element_type::DOUBLE: {
      std::string unused;
      return h.number_float(e.get_double().value_unsafe(), unused);
    }
    case element_type::STRING: {
      std::string text(e.get_string().value_unsafe());
      return h.string(text);
    }
    case element_type::BOOL: return h.boolean(e.get_bool().value_unsafe());
    case element_type::NULL_VALUE: return h.null();
  }
  return false;
}

void check_not_empty(const std::string& text, const std::string& source_name) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw UserError(source_name + ": the data file is empty (expected a JSON object such as "
                                  "{\"N\": 3, \"y\": [1, 2, 3]})");
  check_text_head(text, source_name);
}

// The fast path: nothing when simdjson does not take the text.
std::optional<DataSet> parse_with_simdjson(const std::string& text, const std::string& source_name) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  // The reader leaves room after the text for simdjson's SIMD loads (no copy).
  const bool padded = text.capacity() >= text.size() + simdjson::SIMDJSON_PADDING;
  if (parser.parse(text.data(), text.size(), !padded).get(root)) return std::nullopt;
  DataSet result(source_name);
  Handler handler(text, source_name, result);
  if (walk(root, handler) && handler.error().empty()) return result;
  throw UserError(handler.error().empty() ? source_name + ": cannot parse JSON" : handler.error());
}

// The slow path, on a text check_not_empty has passed.
DataSet parse_with_nlohmann(const std::string& text, const std::string& source_name) {
  DataSet result(source_name);
  Handler handler(text, source_name, result);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &handler);
  } catch (const std::exception& e) {
    // sax_parse reports through the handler; this is a belt and braces.
    throw UserError(source_name + ": cannot parse JSON: " + strip_nlohmann_prefix(e.what()));
  }
  if (!ok || !handler.error().empty()) {
    if (!handler.error().empty()) throw UserError(handler.error());
    throw UserError(source_name + ": cannot parse JSON");
  }
  return result;
}

}  // namespace

DataSet json_data_by_nlohmann(const std::string& text, const std::string& source_name) {
  check_not_empty(text, source_name);
  return parse_with_nlohmann(text, source_name);
}

DataSet DataSet::from_json_string(const std::string& text, const std::string& source_name) {
  check_not_empty(text, source_name);
  if (std::optional<DataSet> fast = parse_with_simdjson(text, source_name)) return std::move(*fast);
  // Not JSON as simdjson reads it (or a number it does not take, such as an
  // integer beyond 64 bits): nlohmann's parser says what and where.
  return parse_with_nlohmann(text, source_name);
}

DataSet DataSet::from_json_file(const std::string& path, const std::string& kind) {
  // Binary input (an image, /dev/zero) is rejected from its first bytes, not read to the limit.
  std::string text = read_file_limited(path, kind, kMaxDataFileBytes, [&](const std::string& head) {
    check_text_head(head, path);
  });
  return from_json_string(text, path);
}

std::string json_error_text(const std::exception& e) {
  std::string s = e.what();
  if (!s.empty() && s[0] == '[') {
    auto close = s.find("] ");
    if (close != std::string::npos) s = s.substr(close + 2);
  }
  return cap_text(s, 300);
}

const DataValue* DataSet::find(const std::string& name) const {
  auto it = fields_.find(name);
  return it == fields_.end() ? nullptr : &it->second;
}

std::vector<std::string> DataSet::names() const {
  std::vector<std::string> result;
  result.reserve(fields_.size());
  for (const auto& [name, value] : fields_) result.push_back(name);
  return result;
}

void DataSet::set(const std::string& name, DataValue value) { fields_[name] = std::move(value); }

}  // namespace latent
