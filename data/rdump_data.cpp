// CmdStan's R dump data files: a recursive-descent reader over the whole text.
// See rdump_data.hpp for the accepted forms and the decisions.
#include "data/rdump_data.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>

#include "common/read_file.hpp"
#include "common/source.hpp"

namespace latent {

namespace {

constexpr size_t kMaxDims = 32;                       // JSON's nesting limit
constexpr uint64_t kMaxValues = uint64_t{1} << 29;    // what a 1 GiB JSON file can hold ("0," per value)
constexpr int kMaxCallDepth = 32;                     // c(c(c(...))): the recursion is bounded

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }
bool is_name_char(char c) { return is_alpha(c) || is_digit(c) || c == '.' || c == '_'; }

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "c(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + ")";
}

// Values of one R expression, before they are shaped.
struct Values {
  std::vector<double> values;
  bool all_int = true;
};

// How many more values an expression may make, and what to say when it makes more.
struct Budget {
  uint64_t left;
  std::string exceeded;
};

struct Number {
  double value = 0;
  bool integral = true;  // finite and integer-valued
  size_t at = 0;
};

class Reader {
 public:
  Reader(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  DataSet read() {
    DataSet out(source_);
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // a UTF-8 byte-order mark
    for (;;) {
      skip();
      if (pos_ >= text_.size()) break;
      if (text_[pos_] == ';') {
        ++pos_;
        continue;
      }
      statement(out);
    }
    return out;
  }

 private:
  [[noreturn]] void fail(size_t at, const std::string& message) const {
    const SourceLoc loc = location_of(text_, at);
    std::string where = source_ + ":" + std::to_string(loc.line) + ":" + std::to_string(loc.column) + ": ";
    if (!field_.empty()) where += "field '" + cap_text(field_, 100) + "': ";
    throw UserError(where + message);
  }

  // Skips blanks, new lines (noting them) and `#` comments.
  void skip() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        newline_ = true;
        ++pos_;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++pos_;
      } else if (c == '#') {
        while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
      } else {
        break;
      }
    }
  }

  char peek() {
    skip();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  // The next character on this line after blanks (not passing a new line).
  char same_line_peek() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }

  bool eat(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }

  // What is at pos_, quoted for a message: "'abc'", "the end of the file".
  std::string found() {
    skip();
    if (pos_ >= text_.size()) return "the end of the file";
    size_t end = pos_;
    if (is_name_char(text_[end])) {
      while (end < text_.size() && is_name_char(text_[end]) && end - pos_ < 40) ++end;
    } else {
      ++end;
      while (end < text_.size() && (static_cast<unsigned char>(text_[end]) & 0xC0) == 0x80) ++end;
    }
    return "'" + text_.substr(pos_, end - pos_) + "'";
  }

  void expect(char c, const std::string& what) {
    if (!eat(c)) fail(pos_, "expected " + what + ", found " + found());
  }

  // The R name at pos_ (a letter, or a dot not before a digit, then letters,
  // digits, dots and underscores), not consumed; "" when there is none.
  std::string word() {
    skip();
    if (pos_ >= text_.size()) return "";
    const char c = text_[pos_];
    const bool dot_name = c == '.' && !(pos_ + 1 < text_.size() && is_digit(text_[pos_ + 1]));
    if (!is_alpha(c) && !dot_name) return "";
    size_t end = pos_;
    while (end < text_.size() && is_name_char(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }

  // True when `w` (the word at pos_) is followed by '(' (a call).
  bool is_call(const std::string& w) {
    size_t p = pos_ + w.size();
    while (p < text_.size() && (text_[p] == ' ' || text_[p] == '\t')) ++p;
    return p < text_.size() && text_[p] == '(';
  }

  void statement(DataSet& out) {
    const size_t start = pos_;
    field_.clear();
    std::string name;
    const char q = text_[pos_];
    if (q == '"' || q == '\'' || q == '`') {
      const size_t close = text_.find_first_of(std::string(1, q) + "\n", pos_ + 1);
      if (close == std::string::npos || text_[close] != q) fail(start, "the quoted name is not closed on its line");
      name = text_.substr(pos_ + 1, close - pos_ - 1);
      if (name.empty()) fail(start, "empty variable name");
      pos_ = close + 1;
    } else {
      name = word();
      if (name.empty())
        fail(start, "expected a variable name (an R dump has lines such as 'N <- 3'), found " + found());
      pos_ += name.size();
    }
    auto first = lines_.find(name);
    if (first != lines_.end())
      fail(start, "field '" + cap_text(name, 100) + "' is assigned twice (first on line " +
                      std::to_string(first->second) + ")");
    skip();
    if (text_.compare(pos_, 2, "<-") == 0) {
      pos_ += 2;
    } else if (pos_ < text_.size() && text_[pos_] == '=' && text_.compare(pos_, 2, "==") != 0) {
      ++pos_;
    } else {
      fail(pos_, "expected '<-' after the name '" + cap_text(name, 100) + "', found " + found());
    }
    field_ = name;
    DataValue value = whole_value();
    newline_ = false;
    skip();
    if (pos_ < text_.size() && text_[pos_] != ';' && !newline_)
      fail(pos_, "expected a new line or ';' after the value, found " + found());
    lines_[name] = location_of(text_, start).line;
    out.set(name, std::move(value));
    field_.clear();
  }

  // The right-hand side of an assignment.
  DataValue whole_value() {
    const std::string w = word();
    if (w == "structure" && is_call(w)) return structure();
    Values v;
    Budget budget{kMaxValues - total_, values_budget_message()};
    const bool lone = vector_expr(v, budget, 0);
    total_ += v.values.size();
    DataValue out;
    if (!lone) out.dims = {static_cast<int64_t>(v.values.size())};
    out.values = std::move(v.values);
    out.all_int = v.all_int;
    out.r_vector = true;
    return out;
  }

  static std::string values_budget_message() {
    return "the file has more than 2^29 values (the most a data file of 1 GiB can hold)";
  }

  // `structure(values, .Dim = dims)`: values in column-major order.
  DataValue structure() {
    const size_t at = pos_;
    pos_ += std::string("structure").size();
    expect('(', "'('");
    Values v;
    Budget budget{kMaxValues - total_, values_budget_message()};
    vector_expr(v, budget, 0);
    total_ += v.values.size();
    expect(',', "', .Dim = c(...)' after the values of structure(...)");
    std::vector<int64_t> dims = dim_attribute();
    while (eat(',')) {
      skip();
      const size_t attr_at = pos_;
      const std::string w = word();
      fail(attr_at, "structure(...) attribute '" + (w.empty() ? found() : w) +
                        "' is not supported (only .Dim, the array's dimensions)");
    }
    expect(')', "')' closing structure(...)");

    uint64_t product = 1;
    for (int64_t d : dims)
      if (__builtin_mul_overflow(product, static_cast<uint64_t>(d), &product)) product = UINT64_MAX;
    if (product != v.values.size())
      fail(at, "structure(...) has " + std::to_string(v.values.size()) + (v.values.size() == 1 ? " value" : " values") +
                   " but .Dim = " + dims_text(dims) + " needs " +
                   (product == UINT64_MAX ? std::string("more") : std::to_string(product)));

    DataValue out;
    out.values.resize(v.values.size());
    // R's first index runs fastest; DataValue's last (JSON's nesting order).
    std::vector<int64_t> idx(dims.size(), 0);
    for (size_t p = 0; p < v.values.size(); ++p) {
      size_t r = 0;
      for (size_t j = 0; j < dims.size(); ++j) r = r * static_cast<size_t>(dims[j]) + static_cast<size_t>(idx[j]);
      out.values[r] = v.values[p];
      for (size_t j = 0; j < dims.size(); ++j) {
        if (++idx[j] < dims[j]) break;
        idx[j] = 0;
      }
    }
    out.dims = std::move(dims);
    out.all_int = v.all_int;
    return out;
  }

  // `.Dim = c(2, 3)` (or `dim = 2:3`, R 4's dput).
  std::vector<int64_t> dim_attribute() {
    skip();
    const size_t at = pos_;
    const std::string w = word();
    if (w != ".Dim" && w != "dim") {
      if (w.empty()) fail(at, "expected '.Dim = c(...)' in structure(...), found " + found());
      fail(at, "structure(...) attribute '" + w + "' is not supported (only .Dim, the array's dimensions)");
    }
    pos_ += w.size();
    expect('=', "'=' after " + w);
    skip();
    const size_t dims_at = pos_;
    Values d;
    Budget budget{kMaxDims, ".Dim has more than " + std::to_string(kMaxDims) +
                                " dimensions (no declared type has that many)"};
    vector_expr(d, budget, 0);
    std::vector<int64_t> dims;
    for (double x : d.values) {
      if (!(x >= 0) || x != std::floor(x) || x > 9.0e15)
        fail(dims_at, ".Dim must hold non-negative whole numbers");
      dims.push_back(static_cast<int64_t>(x));
    }
    if (dims.empty()) fail(dims_at, ".Dim must hold at least one dimension");
    return dims;
  }

  void add(Values& out, Budget& budget, uint64_t count, size_t at) {
    if (count > budget.left) fail(at, budget.exceeded);
    budget.left -= count;
  }

  // Appends the values of a number, `a:b`, `c(...)`, `integer(n)`, `double(n)`
  // or `numeric(n)`. Returns true for a lone number (an R scalar).
  bool vector_expr(Values& out, Budget& budget, int depth) {
    skip();
    const size_t at = pos_;
    const std::string w = word();
    if (!w.empty() && is_call(w)) {
      pos_ += w.size();
      expect('(', "'('");
      if (w == "c") {
        if (depth >= kMaxCallDepth) fail(at, "c(...) is nested more than " + std::to_string(kMaxCallDepth) + " deep");
        if (eat(')')) return false;
        do vector_expr(out, budget, depth + 1);
        while (eat(','));
        expect(')', "',' or ')' in c(...)");
        return false;
      }
      if (w == "integer" || w == "double" || w == "numeric") {
        uint64_t n = 0;
        if (!eat(')')) {
          const Number count = number();
          if (!count.integral || count.value < 0)
            fail(count.at, w + "(n) needs a non-negative whole number n");
          n = count.value >= 0x1p63 ? UINT64_MAX : static_cast<uint64_t>(count.value);
          expect(')', "')' closing " + w + "(...)");
        }
        add(out, budget, n, at);
        out.values.insert(out.values.end(), n, 0.0);
        return false;
      }
      if (w == "list")
        fail(at, "list(...) is not supported: write one 'name <- value' line per variable, as "
                 "rstan::stan_rdump() does");
      if (w == "structure") fail(at, "structure(...) must be the whole value of a variable, not part of one");
      fail(at, "the function " + w + "(...) is not supported in R dump data (use c(...), a:b, integer(n), "
                                     "double(n) or structure(..., .Dim = c(...)))");
    }
    const Number a = number();
    if (same_line_peek() == ':') {  // a new line ends a complete value, as in R
      ++pos_;
      const Number b = number();
      if (!a.integral || !b.integral || std::fabs(a.value) > 0x1p53 || std::fabs(b.value) > 0x1p53)
        fail(a.at, "both ends of a:b must be whole numbers");
      const double first = a.value, last = b.value;
      const uint64_t n = static_cast<uint64_t>(std::fabs(last - first)) + 1;
      add(out, budget, n, a.at);
      const double step = last >= first ? 1 : -1;
      for (uint64_t i = 0; i < n; ++i) out.values.push_back(first + step * static_cast<double>(i));
      return false;
    }
    add(out, budget, 1, a.at);
    out.values.push_back(a.value);
    if (!a.integral) out.all_int = false;
    return true;
  }

  // A signed number: a literal, Inf, NaN, TRUE or FALSE.
  Number number() {
    skip();
    Number n;
    n.at = pos_;
    bool negative = false;
    if (pos_ < text_.size() && (text_[pos_] == '-' || text_[pos_] == '+')) {
      negative = text_[pos_] == '-';
      ++pos_;
    }
    const std::string w = word();
    if (!w.empty()) {
      pos_ += w.size();
      constexpr double inf = std::numeric_limits<double>::infinity();
      if (w == "Inf" || w == "Infinity") {
        n.value = negative ? -inf : inf;
        n.integral = false;
      } else if (w == "NaN") {
        n.value = std::numeric_limits<double>::quiet_NaN();
        n.integral = false;
      } else if (w == "TRUE" || w == "FALSE") {
        n.value = w == "TRUE" ? (negative ? -1 : 1) : 0;
      } else if (w == "NA" || w.rfind("NA_", 0) == 0) {
        fail(n.at + (negative ? 1 : 0),
             "NA (a missing value) is not allowed: Stan data cannot have missing values (rstan and CmdStan "
             "refuse NA too); remove them, or pass the observed values and their indices");
      } else {
        pos_ -= w.size();
        fail(pos_, "expected a number, found " + found() +
                       " (R dump data holds numbers, c(...), a:b, integer(n), double(n) and structure(...))");
      }
      return n;
    }
    const size_t start = pos_;
    if (text_.compare(pos_, 2, "0x") == 0 || text_.compare(pos_, 2, "0X") == 0) {
      pos_ += 2;
      double v = 0;
      const size_t digits = pos_;
      while (pos_ < text_.size() && std::isxdigit(static_cast<unsigned char>(text_[pos_]))) {
        const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(text_[pos_++])));
        v = v * 16 + (is_digit(c) ? c - '0' : c - 'a' + 10);
      }
      if (pos_ == digits) fail(start, "expected hexadecimal digits after 0x");
      n.value = v;
    } else {
      size_t mantissa = 0;
      while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_, ++mantissa;
      if (pos_ < text_.size() && text_[pos_] == '.') {
        ++pos_;
        while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_, ++mantissa;
      }
      if (mantissa == 0) {
        pos_ = start;
        fail(start, "expected a number, found " + found());
      }
      if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
        ++pos_;
        if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
        const size_t exponent = pos_;
        while (pos_ < text_.size() && is_digit(text_[pos_])) ++pos_;
        if (pos_ == exponent) fail(start, "the number '" + text_.substr(start, pos_ - start) + "' has no exponent digits");
      }
      n.value = std::strtod(text_.substr(start, pos_ - start).c_str(), nullptr);
    }
    const std::string literal = text_.substr(start, pos_ - start);
    if (std::isinf(n.value))
      fail(start, "the number " + cap_text(literal, 40) + " is out of range (write Inf for infinity)");
    n.integral = n.value == std::floor(n.value);
    if (pos_ < text_.size() && text_[pos_] == 'L') {
      ++pos_;
      if (!n.integral) fail(start, cap_text(literal, 40) + "L is not an integer");
    }
    if (pos_ < text_.size() && is_name_char(text_[pos_]))
      fail(pos_, "unexpected " + found() + " after the number " + cap_text(literal, 40));
    if (negative) n.value = -n.value;
    return n;
  }

  const std::string& text_;
  const std::string& source_;
  size_t pos_ = 0;
  bool newline_ = false;                // skip() passed a new line
  std::string field_;                   // the variable being read, for messages
  uint64_t total_ = 0;                  // values so far in the file
  std::map<std::string, int> lines_;    // each variable's line
};

}  // namespace

DataSet rdump_data_from_string(const std::string& text, const std::string& source_name) {
  check_text_head(text, source_name, "an R dump text file");
  return Reader(text, source_name).read();
}

DataSet rdump_data_from_file(const std::string& path, const std::string& kind) {
  std::string text = read_file_limited(path, kind, kMaxDataFileBytes, [&](const std::string& head) {
    check_text_head(head, path, "an R dump text file");
  });
  return rdump_data_from_string(text, path);
}

}  // namespace latent
