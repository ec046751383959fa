// CmdStan JSON data: parsing, error messages, checking against declarations,
// storage order.
#define BOOST_TEST_MODULE data
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "common/source.hpp"
#include "data/check_data.hpp"
#include "data/json_data.hpp"

using namespace latent;
using namespace latent::testing;

namespace {


std::string parse_error(const std::string& text) {
  return error_of([&] { DataSet::from_json_string(text, "data.json"); });
}

DataSet parse(const std::string& text) { return DataSet::from_json_string(text, "data.json"); }

std::string check_error(const std::string& text, const DeclaredShape& decl) {
  return error_of([&] { check_and_flatten(parse(text), decl); });
}

DeclaredShape decl(std::string name, bool is_int, std::vector<int64_t> dims,
                   std::optional<double> lower = {}, std::optional<double> upper = {},
                   bool matrix = false) {
  DeclaredShape d;
  d.name = std::move(name);
  d.is_int = is_int;
  d.dims = std::move(dims);
  d.lower = lower;
  d.upper = upper;
  d.is_matrix_last2 = matrix;
  return d;
}


}  // namespace

// ---------------------------------------------------------------- parsing

BOOST_AUTO_TEST_CASE(parses_scalars_arrays_and_nesting) {
  DataSet d = parse(R"({"N": 3, "x": 2.5, "y": [1, 2, 3], "m": [[1, 2, 3], [4, 5, 6]],
                        "e": [], "ee": [[], []], "neg": -7})");
  BOOST_TEST(d.size() == 7u);
  BOOST_TEST(d.source() == "data.json");
  const DataValue* n = d.find("N");
  BOOST_REQUIRE(n);
  BOOST_TEST(n->dims.empty());
  BOOST_TEST(n->values == std::vector<double>{3});
  BOOST_TEST(n->all_int);
  const DataValue* x = d.find("x");
  BOOST_TEST(x->values == std::vector<double>{2.5});
  BOOST_TEST(!x->all_int);
  const DataValue* m = d.find("m");
  BOOST_TEST(m->dims == (std::vector<int64_t>{2, 3}));
  BOOST_TEST(m->values == (std::vector<double>{1, 2, 3, 4, 5, 6}));
  BOOST_TEST(m->all_int);
  BOOST_TEST(d.find("e")->dims == std::vector<int64_t>{0});
  BOOST_TEST(d.find("e")->values.empty());
  BOOST_TEST(d.find("ee")->dims == (std::vector<int64_t>{2, 0}));
  BOOST_TEST(d.find("neg")->values == std::vector<double>{-7});
  BOOST_TEST(d.find("absent") == nullptr);
  BOOST_TEST(d.names() == (std::vector<std::string>{"N", "e", "ee", "m", "neg", "x", "y"}));
}

BOOST_AUTO_TEST_CASE(integral_reals_count_as_integers) {
  DataSet d = parse(R"({"a": [1.0, 2e0, 3], "b": [1, 2.5], "big": 18446744073709551616})");
  BOOST_TEST(d.find("a")->all_int);
  BOOST_TEST(!d.find("b")->all_int);
  BOOST_TEST(d.find("big")->all_int);
  BOOST_TEST(d.find("big")->values[0] == 18446744073709551616.0);
}

BOOST_AUTO_TEST_CASE(non_finite_strings) {
  DataSet d = parse(
      R"({"v": ["inf", "+inf", "-inf", "Infinity", "-Infinity", "NaN", "INF", "nan", 1]})");
  const auto& v = d.find("v")->values;
  BOOST_REQUIRE(v.size() == 9u);
  BOOST_TEST(v[0] == INFINITY);
  BOOST_TEST(v[1] == INFINITY);
  BOOST_TEST(v[2] == -INFINITY);
  BOOST_TEST(v[3] == INFINITY);
  BOOST_TEST(v[4] == -INFINITY);
  BOOST_TEST(std::isnan(v[5]));
  BOOST_TEST(v[6] == INFINITY);
  BOOST_TEST(std::isnan(v[7]));
  BOOST_TEST(!d.find("v")->all_int);
  BOOST_TEST(std::isinf(parse(R"({"s": "-inf"})").find("s")->values[0]));
}

BOOST_AUTO_TEST_CASE(deep_nesting_and_zero_dims) {
  DataSet d = parse(R"({"a": [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]],
                        "z": [[[]], [[]]]})");
  BOOST_TEST(d.find("a")->dims == (std::vector<int64_t>{2, 3, 2}));
  BOOST_TEST(d.find("a")->values[11] == 12);
  BOOST_TEST(d.find("z")->dims == (std::vector<int64_t>{2, 1, 0}));
}

// ------------------------------------------------------------ parse errors

BOOST_AUTO_TEST_CASE(ragged_arrays) {
  BOOST_TEST(parse_error(R"({"y": [[1,2,3,4],[1,2,3,4],[1,2]]})") ==
             "data.json: field 'y': ragged array (element 3 has 2 entries, expected 4)");
  BOOST_TEST(parse_error(R"({"y": [[1],[1,2]]})") ==
             "data.json: field 'y': ragged array (element 2 has 2 entries, expected 1)");
  BOOST_TEST(parse_error(R"({"y": [[[1,2],[3,4]],[[1,2],[3]]]})") ==
             "data.json: field 'y': ragged array (element [2, 2] has 1 entry, expected 2)");
  BOOST_TEST(parse_error(R"({"y": [[1,2],3]})") ==
             "data.json: field 'y': element 2 is a number, expected an array (arrays are not "
             "equally nested)");
  BOOST_TEST(parse_error(R"({"y": [1,[2]]})") ==
             "data.json: field 'y': element 2 is an array, expected a number (arrays are not "
             "equally nested)");
  BOOST_TEST(parse_error(R"({"y": [[], [1]]})") ==
             "data.json: field 'y': ragged array (element 2 has 1 entry, expected 0)");
}

BOOST_AUTO_TEST_CASE(syntax_errors_have_line_and_column) {
  BOOST_TEST(parse_error("{\n  \"N\": 3,\n  \"y\": [1, 2,, 3]\n}") ==
             "data.json:3:14: JSON syntax error: syntax error while parsing value - unexpected "
             "','; expected '[', '{', or a literal");
  std::string e = parse_error("{\"a\": 1");
  BOOST_TEST(e.rfind("data.json:1:8: JSON syntax error: ", 0) == 0, e);
  e = parse_error("{\"a\": tru}");
  BOOST_TEST(e.rfind("data.json:1:", 0) == 0, e);
  BOOST_TEST(e.find("JSON syntax error") != std::string::npos, e);
  e = parse_error("{\"a\": 1e999}");
  BOOST_TEST(e.find("number out of range") != std::string::npos, e);
  BOOST_TEST(e.find("inf") != std::string::npos, e);
  e = parse_error("{\"a\": 1} trailing");
  BOOST_TEST(e.rfind("data.json:1:", 0) == 0, e);
}

BOOST_AUTO_TEST_CASE(wrong_json_values) {
  BOOST_TEST(parse_error("[1, 2]") ==
             "data.json: the top level must be a JSON object ({\"name\": value, ...}), found an "
             "array");
  BOOST_TEST(parse_error("3") ==
             "data.json: the top level must be a JSON object ({\"name\": value, ...}), found a "
             "number");
  BOOST_TEST(parse_error(R"({"b": [1, true]})") ==
             "data.json: field 'b': element 2 is the boolean true, expected a number");
  BOOST_TEST(parse_error(R"({"b": false})") ==
             "data.json: field 'b': is the boolean false, expected a number or an array of "
             "numbers");
  BOOST_TEST(parse_error(R"({"n": [[1, null]]})") ==
             "data.json: field 'n': element [1, 2] is null, expected a number");
  BOOST_TEST(parse_error(R"({"o": {"a": 1}})") ==
             "data.json: field 'o': is a JSON object; data fields must be numbers or arrays of "
             "numbers");
  BOOST_TEST(parse_error(R"({"o": [1, {"a": 1}]})") ==
             "data.json: field 'o': element 2 is a JSON object, expected a number");
  BOOST_TEST(parse_error(R"({"s": [1, "abc"]})") ==
             "data.json: field 's': element 2 is the string \"abc\", expected a number (the only "
             "strings allowed are \"inf\", \"-inf\" and \"NaN\")");
  BOOST_TEST(parse_error(R"({"N": 1, "N": 2})") == "data.json: field 'N' appears twice");
}

BOOST_AUTO_TEST_CASE(empty_and_binary_text) {
  BOOST_TEST(parse_error("") ==
             "data.json: the data file is empty (expected a JSON object such as {\"N\": 3, "
             "\"y\": [1, 2, 3]})");
  BOOST_TEST(parse_error("  \n ") ==
             "data.json: the data file is empty (expected a JSON object such as {\"N\": 3, "
             "\"y\": [1, 2, 3]})");
  BOOST_TEST(parse_error(std::string("\x89PNG\r\n\x1a\n\0\0", 10)) ==
             "data.json: not a JSON text file (it contains binary data)");
  BOOST_TEST(parse_error(std::string("\xFF\xFE{\0}\0", 6)) ==
             "data.json: the file is UTF-16 encoded; save it as UTF-8");
  BOOST_TEST(parse(std::string("{}")).empty());
  BOOST_TEST(parse("\xEF\xBB\xBF{\"a\": 1}").find("a") != nullptr);  // UTF-8 BOM
}

BOOST_AUTO_TEST_CASE(files) {
  TempDir dir;
  std::string good = dir.write("d.json", R"({"N": 2, "y": [0.5, 1.5]})");
  DataSet d = DataSet::from_json_file(good);
  BOOST_TEST(d.source() == good);
  BOOST_TEST(d.find("y")->values == (std::vector<double>{0.5, 1.5}));

  std::string missing = (dir.path / "nope.json").string();
  BOOST_TEST(error_of([&] { DataSet::from_json_file(missing); }) ==
             "cannot read data file '" + missing + "': no such file");
  BOOST_TEST(error_of([&] { DataSet::from_json_file(dir.path.string()); }) ==
             "cannot read data file '" + dir.path.string() + "': it is a directory");
  std::string empty = dir.write("empty.json", "");
  BOOST_TEST(error_of([&] { DataSet::from_json_file(empty); }) ==
             empty + ": the data file is empty (expected a JSON object such as {\"N\": 3, "
                     "\"y\": [1, 2, 3]})");
  std::string bin = dir.write("bin.json", std::string("\x7f" "ELF\x02\x01\x01\0\0\0", 10));
  BOOST_TEST(error_of([&] { DataSet::from_json_file(bin); }) ==
             bin + ": not a JSON text file (it contains binary data)");
  std::string bad = dir.write("bad.json", "{\n\"a\": [1, 2]\n\"b\": 3}");
  std::string e = error_of([&] { DataSet::from_json_file(bad); });
  BOOST_TEST(e.rfind(bad + ":3:1: JSON syntax error: ", 0) == 0, e);
}

BOOST_AUTO_TEST_CASE(posteriordb_reference_files_parse) {
  namespace fs = std::filesystem;
  const fs::path ref = "/work/shared/reference/posteriordb";
  if (!fs::exists(ref)) return;  // the reference folder is optional
  int files = 0;
  for (const auto& entry : fs::directory_iterator(ref)) {
    fs::path file = entry.path() / "data.json";
    if (!fs::exists(file)) continue;
    DataSet d = DataSet::from_json_file(file.string());
    BOOST_TEST(!d.empty(), file);
    ++files;
  }
  BOOST_TEST(files > 0);
  DataSet d = DataSet::from_json_file(
      (ref / "eight_schools-eight_schools_noncentered" / "data.json").string());
  BOOST_TEST(d.find("J")->all_int);
  BOOST_TEST(d.find("y")->dims == std::vector<int64_t>{8});
  BOOST_TEST(check_and_flatten(d, decl("sigma", false, {8}, 0.0)).size() == 8u);
}

// ------------------------------------------------------------------ checks

BOOST_AUTO_TEST_CASE(missing_field) {
  BOOST_TEST(check_error("{}", decl("N", true, {})) ==
             "data.json: field 'N' is missing (declared in the data block as int N)");
  BOOST_TEST(check_error("{}", decl("N", true, {}, 1.0)) ==
             "data.json: field 'N' is missing (declared in the data block as int<lower=1> N)");
  BOOST_TEST(check_error("{}", decl("y", true, {3, 2})) ==
             "data.json: field 'y' is missing (declared in the data block as array[3, 2] int "
             "y)");
  BOOST_TEST(check_error("{}", decl("a", false, {2, 3, 4}, {}, {}, true)) ==
             "data.json: field 'a' is missing (declared in the data block as array[2] "
             "matrix[3, 4] a)");
  DeclaredShape v = decl("y", false, {10}, 0.0);
  v.declared_as = "vector<lower=0>[N] y";
  BOOST_TEST(check_error("{}", v) ==
             "data.json: field 'y' is missing (declared in the data block as "
             "vector<lower=0>[N] y)");
}

BOOST_AUTO_TEST_CASE(shape_mismatches) {
  BOOST_TEST(check_error(R"({"y": [1,2,3,4,5,6,7,8,9]})", decl("y", false, {10})) ==
             "data.json: field 'y': expected an array of 10 values, found 9");
  BOOST_TEST(check_error(R"({"y": 3})", decl("y", false, {10})) ==
             "data.json: field 'y': expected an array of 10 values, found a single number");
  BOOST_TEST(check_error(R"({"N": [3]})", decl("N", true, {})) ==
             "data.json: field 'N': expected a single number, found an array of 1 value");
  BOOST_TEST(check_error(R"({"m": [[1,2],[3,4]]})", decl("m", false, {2, 3}, {}, {}, true)) ==
             "data.json: field 'm': expected an array with dims [2, 3], found an array with dims "
             "[2, 2]");
  BOOST_TEST(check_error(R"({"m": [1,2,3,4,5,6]})", decl("m", false, {2, 3})) ==
             "data.json: field 'm': expected an array with dims [2, 3], found an array of 6 "
             "values");
  BOOST_TEST(check_error(R"({"y": [1, 2]})", decl("y", false, {0})) ==
             "data.json: field 'y': expected an array of 0 values, found 2");
}

BOOST_AUTO_TEST_CASE(zero_size_containers) {
  BOOST_TEST(check_and_flatten(parse(R"({"y": []})"), decl("y", false, {0})).empty());
  BOOST_TEST(check_and_flatten(parse(R"({"y": []})"), decl("y", false, {0, 5})).empty());
  BOOST_TEST(check_and_flatten(parse(R"({"y": []})"), decl("y", false, {3, 0})).empty());
  BOOST_TEST(check_and_flatten(parse(R"({"y": [[], [], []]})"), decl("y", false, {3, 0})).empty());
  BOOST_TEST(
      check_and_flatten(parse(R"({"y": [[], []]})"), decl("y", false, {2, 0, 4}, {}, {}, true))
          .empty());
  BOOST_TEST(check_error(R"({"y": [[], []]})", decl("y", false, {3, 0})) ==
             "data.json: field 'y': expected an array with dims [3, 0], found an array with dims "
             "[2, 0]");
}

BOOST_AUTO_TEST_CASE(integers) {
  BOOST_TEST(check_error(R"({"N": 2.5})", decl("N", true, {})) ==
             "data.json: field 'N': expected an integer, found 2.5");
  BOOST_TEST(check_error(R"({"y": [1, 2, 3.25]})", decl("y", true, {3})) ==
             "data.json: field 'y': expected an integer at index [3], found 3.25");
  BOOST_TEST(check_error(R"({"y": [[1, 2], [3, "inf"]]})", decl("y", true, {2, 2})) ==
             "data.json: field 'y': expected an integer at index [2, 2], found inf");
  BOOST_TEST(check_error(R"({"N": 100000000000000000000})", decl("N", true, {})) ==
             "data.json: field 'N': integer 1e+20 does not fit in a 64-bit integer");
  BOOST_TEST(check_error(R"({"N": -9223372036854775809})", decl("N", true, {})) ==
             "data.json: field 'N': integer -9223372036854775808 is too large: data are stored "
             "as doubles, which hold integers exactly only up to 2^53 = 9007199254740992");
  BOOST_TEST(check_error(R"({"N": [1, 9007199254740994]})", decl("N", true, {2})) ==
             "data.json: field 'N': integer 9007199254740994 at index [2] is too large: data "
             "are stored as doubles, which hold integers exactly only up to 2^53 = "
             "9007199254740992");
  // integral reals are accepted for ints; ints are accepted for reals
  BOOST_TEST(check_and_flatten(parse(R"({"N": 4.0})"), decl("N", true, {})) ==
             std::vector<double>{4});
  BOOST_TEST(check_and_flatten(parse(R"({"x": 4})"), decl("x", false, {})) ==
             std::vector<double>{4});
  BOOST_TEST(check_and_flatten(parse(R"({"N": 9007199254740992})"), decl("N", true, {})) ==
             std::vector<double>{9007199254740992.0});
}

BOOST_AUTO_TEST_CASE(bounds) {
  BOOST_TEST(check_error(R"({"sigma": [1, 2, -1]})", decl("sigma", false, {3}, 0.0)) ==
             "data.json: field 'sigma': value -1 at index [3] is below the declared lower bound "
             "0");
  BOOST_TEST(check_error(R"({"sigma": -0.5})", decl("sigma", false, {}, 0.0)) ==
             "data.json: field 'sigma': value -0.5 is below the declared lower bound 0");
  BOOST_TEST(check_error(R"({"p": [[0.5, 0.25], [1.5, 0]]})",
                         decl("p", false, {2, 2}, 0.0, 1.0, true)) ==
             "data.json: field 'p': value 1.5 at index [2, 1] is above the declared upper bound "
             "1");
  BOOST_TEST(check_error(R"({"p": ["NaN"]})", decl("p", false, {1}, 0.0)) ==
             "data.json: field 'p': value NaN at index [1] is not allowed: the declared lower "
             "bound is 0");
  BOOST_TEST(check_error(R"({"N": 0})", decl("N", true, {}, 1.0)) ==
             "data.json: field 'N': value 0 is below the declared lower bound 1");
  // bounds are inclusive, infinities are fine without bounds
  BOOST_TEST(check_and_flatten(parse(R"({"p": [0, 1]})"), decl("p", false, {2}, 0.0, 1.0)) ==
             (std::vector<double>{0, 1}));
  BOOST_TEST(std::isinf(check_and_flatten(parse(R"({"x": "inf"})"), decl("x", false, {}))[0]));
  BOOST_TEST(check_error(R"({"x": "inf"})", decl("x", false, {}, {}, 10.0)) ==
             "data.json: field 'x': value inf is above the declared upper bound 10");
}

BOOST_AUTO_TEST_CASE(storage_order_array_of_matrices) {
  // array[2] matrix[3, 4] a: JSON a[i][r][c] = 100*i + 10*r + c
  std::string text = "{\"a\": [";
  for (int i = 0; i < 2; ++i) {
    text += i ? ", [" : "[";
    for (int r = 0; r < 3; ++r) {
      text += r ? ", [" : "[";
      for (int c = 0; c < 4; ++c) text += (c ? ", " : "") + std::to_string(100 * i + 10 * r + c);
      text += "]";
    }
    text += "]";
  }
  text += "]}";
  std::vector<double> v = check_and_flatten(parse(text), decl("a", false, {2, 3, 4}, {}, {}, true));
  BOOST_REQUIRE(v.size() == 24u);
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c) BOOST_TEST(v[i * 12 + c * 3 + r] == 100 * i + 10 * r + c);
  // the same numbers as an array of vectors stay row-major
  std::vector<double> w = check_and_flatten(parse(text), decl("a", false, {2, 3, 4}));
  for (int k = 0; k < 24; ++k) BOOST_TEST(w[k] == parse(text).find("a")->values[k]);
  // a plain matrix
  std::vector<double> m =
      check_and_flatten(parse(R"({"m": [[1, 2, 3], [4, 5, 6]]})"), decl("m", false, {2, 3}, {}, {}, true));
  BOOST_TEST(m == (std::vector<double>{1, 4, 2, 5, 3, 6}));
}

BOOST_AUTO_TEST_CASE(data_built_in_code) {
  DataSet d;
  DataValue v;
  v.dims = {2};
  v.values = {1, 2};
  d.set("y", v);
  BOOST_TEST(check_and_flatten(d, decl("y", true, {2})) == (std::vector<double>{1, 2}));
  BOOST_TEST(error_of([&] { check_and_flatten(d, decl("z", false, {})); }) ==
             "<data>: field 'z' is missing (declared in the data block as real z)");
}

BOOST_AUTO_TEST_CASE(never_crashes_on_damaged_text) {
  // Every prefix and many single-byte corruptions of a valid file either
  // parse or throw UserError (nothing else escapes).
  const std::string good =
      R"({"N": 3, "y": [[1.5, -2e3, "inf"], [0, 1, 2]], "s": "NaN", "e": [[]], "k": -7})";
  int parsed = 0, rejected = 0;
  auto attempt = [&](const std::string& text) {
    try {
      DataSet d = DataSet::from_json_string(text, "fuzz.json");
      ++parsed;
    } catch (const UserError& e) {
      ++rejected;
      BOOST_TEST(std::string(e.what()).rfind("fuzz.json", 0) == 0u, e.what());
    }
  };
  for (size_t n = 0; n <= good.size(); ++n) attempt(good.substr(0, n));
  const std::string replacements = "{}[],:\"0-.e \x01\xff" "tfn";
  for (size_t i = 0; i < good.size(); ++i)
    for (char c : replacements) {
      std::string t = good;
      t[i] = c;
      attempt(t);
    }
  BOOST_TEST(parsed > 0);
  BOOST_TEST(rejected > 0);
}
