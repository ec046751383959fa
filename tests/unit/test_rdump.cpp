// R dump data files (CmdStan's .data.R): values and shapes against the JSON that
// R's jsonlite writes for the same R objects, the format chosen by extension and
// content, the R scalar / length-one rule, and malformed files. Message formats
// of whole runs are golden cases (tests/golden/bad/data/rdump_*).
#define BOOST_TEST_MODULE rdump
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

#include <cmath>
#include <random>

#include "common/source.hpp"
#include "data/check_data.hpp"
#include "data/data_file.hpp"
#include "data/json_data.hpp"
#include "data/rdump_data.hpp"
#include "latent/data.hpp"

using namespace latent;
using namespace latent::testing;

namespace {

DataSet rdump(const std::string& text) { return rdump_data_from_string(text, "d.R"); }
std::string rdump_error(const std::string& text) {
  return error_of([&] { rdump_data_from_string(text, "d.R"); });
}

bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

// Every field of `json` is in `r` with the same dims, values and integrality.
void check_same(const DataSet& r, const DataSet& json) {
  BOOST_TEST(r.names() == json.names(), r.names().size() << " vs " << json.names().size());
  for (const std::string& name : json.names()) {
    BOOST_TEST_CONTEXT("field " << name) {
      const DataValue* a = r.find(name);
      const DataValue* b = json.find(name);
      BOOST_REQUIRE(a != nullptr);
      BOOST_TEST(a->dims == b->dims);
      BOOST_TEST(same_values(a->values, b->values), vec_str(a->values) << " vs " << vec_str(b->values));
      BOOST_TEST(a->all_int == b->all_int);
    }
  }
}

// Written by rstan 2.21's stan_rdump(), and the same objects by jsonlite::toJSON
// (matrices and arrays as nested rows: the CmdStan JSON layout). The R script:
//   N <- 3L; y <- c(1.5, -2.25, 1e-3, 123456.789); k <- c(7); sigma <- 2.5
//   x <- matrix(c(1.5, 2, 3, 4, 5, 6.25), nrow = 2); a <- array(1:24 + 0.5, dim = c(2, 3, 4))
//   ia <- array(1:6, dim = c(3, 2)); e <- integer(0); flag <- c(TRUE, FALSE, TRUE)
//   big <- c(1e300, -1e-300, pi)
const char* const kStanRdump = R"(N <- 3
y <- 
c(1.5, -2.25, 0.001, 123456.789)
k <- 7
sigma <- 2.5
x <- 
structure(c(1.5, 2, 3, 4, 5, 6.25),
.Dim = c(2, 3))
a <- 
structure(c(1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5, 12.5, 13.5,
14.5, 15.5, 16.5, 17.5, 18.5, 19.5, 20.5, 21.5, 22.5, 23.5, 24.5),
.Dim = c(2, 3, 4))
ia <- 
structure(c(1, 2, 3, 4, 5, 6),
.Dim = c(3, 2))
e <- integer(0)
flag <- 
c(1, 0, 1)
big <- 
c(1e+300, -1e-300, 3.14159265358979)
)";
const char* const kJsonlite =
    R"({"N":3,"y":[1.5,-2.25,0.001,123456.789],"k":7,"sigma":2.5,"x":[[1.5,3,5],[2,4,6.25]],)"
    R"("a":[[[1.5,7.5,13.5,19.5],[3.5,9.5,15.5,21.5],[5.5,11.5,17.5,23.5]],[[2.5,8.5,14.5,20.5],[4.5,10.5,16.5,22.5],)"
    R"([6.5,12.5,18.5,24.5]]],"ia":[[1,4],[2,5],[3,6]],"e":[],"flag":[1,0,1],"big":[1e+300,-1e-300,3.14159265358979]})";

DeclaredShape declared(const std::string& name, std::vector<int64_t> dims, bool is_int = false) {
  DeclaredShape d;
  d.name = name;
  d.dims = std::move(dims);
  d.is_int = is_int;
  return d;
}

}  // namespace

BOOST_AUTO_TEST_CASE(stan_rdump_output_equals_the_json_of_the_same_objects) {
  check_same(rdump(kStanRdump), DataSet::from_json_string(kJsonlite, "d.json"));
}

// R 4's dump() and dput(): `dim = 2:3`, integer ranges and L suffixes.
BOOST_AUTO_TEST_CASE(r_dump_forms) {
  DataSet r = rdump(
      "x <-\nstructure(c(1.5, 2, 3, 4, 5, 6.25), dim = 2:3)\n"
      "ia <-\nstructure(1:6, dim = 3:2)\n"
      "n <-\n5L\n"
      "seq <- 3:-1\n"
      "z <- double(2); w <- numeric(); one <- c(4L)\n"
      "nest <- c(1, c(2, 3:4), c())\n");
  DataSet j = DataSet::from_json_string(
      R"({"x": [[1.5, 3, 5], [2, 4, 6.25]], "ia": [[1, 4], [2, 5], [3, 6]], "n": 5, "seq": [3, 2, 1, 0, -1],
          "z": [0, 0], "w": [], "one": [4], "nest": [1, 2, 3, 4]})",
      "d.json");
  check_same(r, j);
}

BOOST_AUTO_TEST_CASE(numbers_names_comments_and_separators) {
  DataSet r = rdump(
      "# a comment line\n"
      "\"quoted\" = 1e3   # trailing comment\n"
      "'single' <- -.5; `back` <- +2.\n"
      "hex <- 0x1F;;\n"
      "flags <- c(TRUE, FALSE)\r\n"
      "inf <- c(Inf, -Inf, NaN, -Infinity)\n"
      "tiny <- 1e-400\n"
      "dotted.name_2 <- 7L\n");
  const DataValue* q = r.find("quoted");
  BOOST_REQUIRE(q);
  BOOST_TEST(q->dims.empty());
  BOOST_TEST(q->values == std::vector<double>{1000});
  BOOST_TEST(q->all_int);
  BOOST_TEST(r.find("single")->values == std::vector<double>{-0.5});
  BOOST_TEST(!r.find("single")->all_int);
  BOOST_TEST(r.find("back")->values == std::vector<double>{2});
  BOOST_TEST(r.find("hex")->values == std::vector<double>{31});
  BOOST_TEST(r.find("flags")->values == (std::vector<double>{1, 0}));
  BOOST_TEST(r.find("flags")->all_int);
  const DataValue* inf = r.find("inf");
  BOOST_TEST(inf->values[0] == INFINITY);
  BOOST_TEST(inf->values[1] == -INFINITY);
  BOOST_TEST(std::isnan(inf->values[2]));
  BOOST_TEST(inf->values[3] == -INFINITY);
  BOOST_TEST(!inf->all_int);
  BOOST_TEST(r.find("tiny")->values == std::vector<double>{0});
  BOOST_TEST(r.find("dotted.name_2")->all_int);
}

BOOST_AUTO_TEST_CASE(empty_and_comment_only_files_are_empty_data) {
  BOOST_TEST(rdump("").empty());
  BOOST_TEST(rdump("# nothing\n\n").empty());
}

// stan_rdump writes a vector of length one as `k <- 7`: it fits vector[1] and
// array[1]; c(7) fits a scalar. JSON keeps the distinction.
BOOST_AUTO_TEST_CASE(r_scalars_are_vectors_of_length_one) {
  DataSet r = rdump("k <- 7\nc1 <- c(3)\nm <- structure(5, .Dim = c(1, 1))\nlen2 <- c(1, 2)\n");
  BOOST_TEST(check_and_flatten(r, declared("k", {1})) == std::vector<double>{7});
  BOOST_TEST(check_and_flatten(r, declared("k", {}, true)) == std::vector<double>{7});
  BOOST_TEST(check_and_flatten(r, declared("c1", {}, true)) == std::vector<double>{3});
  BOOST_TEST(check_and_flatten(r, declared("c1", {1})) == std::vector<double>{3});
  BOOST_TEST(check_and_flatten(r, declared("m", {1, 1})) == std::vector<double>{5});
  BOOST_TEST(error_of([&] { check_and_flatten(r, declared("k", {2})); }) ==
             "d.R: field 'k': expected an array of 2 values, found a single number");
  BOOST_TEST(error_of([&] { check_and_flatten(r, declared("k", {1, 1})); }) ==
             "d.R: field 'k': expected an array with dims [1, 1], found a single number");
  BOOST_TEST(error_of([&] { check_and_flatten(r, declared("len2", {})); }) ==
             "d.R: field 'len2': expected a single number, found an array of 2 values");
  DataSet j = DataSet::from_json_string(R"({"k": 7})", "d.json");
  BOOST_TEST(error_of([&] { check_and_flatten(j, declared("k", {1})); }) ==
             "d.json: field 'k': expected an array of 1 value, found a single number");
}

BOOST_AUTO_TEST_CASE(malformed_files_name_line_column_and_field) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"N <- 3\ny <- c(1, 2,, 3)\n", "d.R:2:13: field 'y': expected a number, found ','"},
      {"N <- 3\nN <- 4\n", "d.R:2:1: field 'N' is assigned twice (first on line 1)"},
      {"N 3\n", "d.R:1:3: expected '<-' after the name 'N', found '3'"},
      {"<- 3\n", "d.R:1:1: expected a variable name (an R dump has lines such as 'N <- 3'), found '<'"},
      {"y <- c(1, NA, 3)\n",
       "d.R:1:11: field 'y': NA (a missing value) is not allowed: Stan data cannot have missing values (rstan "
       "and CmdStan refuse NA too); remove them, or pass the observed values and their indices"},
      {"y <- -NA_real_\n", "d.R:1:7: field 'y': NA (a missing value) is not allowed: Stan data cannot have missing "
                           "values (rstan and CmdStan refuse NA too); remove them, or pass the observed values and "
                           "their indices"},
      {"d <- list(N = 3)\n", "d.R:1:6: field 'd': list(...) is not supported: write one 'name <- value' line per "
                             "variable, as rstan::stan_rdump() does"},
      {"x <- structure(c(1, 2, 3), .Dim = c(2, 2))\n",
       "d.R:1:6: field 'x': structure(...) has 3 values but .Dim = c(2, 2) needs 4"},
      {"x <- structure(1:4, .Dim = c(2, 2), .Dimnames = list(c(\"a\", \"b\"), NULL))\n",
       "d.R:1:37: field 'x': structure(...) attribute '.Dimnames' is not supported (only .Dim, the array's "
       "dimensions)"},
      {"x <- structure(1:4, names = c(2, 2))\n",
       "d.R:1:21: field 'x': structure(...) attribute 'names' is not supported (only .Dim, the array's dimensions)"},
      {"x <- structure(1:4, .Dim = c(2, -2))\n", "d.R:1:28: field 'x': .Dim must hold non-negative whole numbers"},
      {"y <- 1e999\n", "d.R:1:6: field 'y': the number 1e999 is out of range (write Inf for infinity)"},
      {"y <- 2.5L\n", "d.R:1:6: field 'y': 2.5L is not an integer"},
      {"y <- 3abc\n", "d.R:1:7: field 'y': unexpected 'abc' after the number 3"},
      {"y <- \"text\"\n", "d.R:1:6: field 'y': expected a number, found '\"'"},
      {"y <- N\n", "d.R:1:6: field 'y': expected a number, found 'N' (R dump data holds numbers, c(...), a:b, "
                   "integer(n), double(n) and structure(...))"},
      {"y <- matrix(1:4, 2)\n", "d.R:1:6: field 'y': the function matrix(...) is not supported in R dump data (use "
                                "c(...), a:b, integer(n), double(n) or structure(..., .Dim = c(...)))"},
      {"y <- c(1, 2\n", "d.R:2:1: field 'y': expected ',' or ')' in c(...), found the end of the file"},
      {"y <- 1 z <- 2\n", "d.R:1:8: field 'y': expected a new line or ';' after the value, found 'z'"},
      {"y <- 1:2.5\n", "d.R:1:6: field 'y': both ends of a:b must be whole numbers"},
      {"y <- integer(-1)\n", "d.R:1:14: field 'y': integer(n) needs a non-negative whole number n"},
      {"y <- c(structure(1, .Dim = 1))\n",
       "d.R:1:8: field 'y': structure(...) must be the whole value of a variable, not part of one"},
      {"y <- 1e\n", "d.R:1:6: field 'y': the number '1e' has no exponent digits"},
      {"\"y <- 1\n", "d.R:1:1: the quoted name is not closed on its line"},
      {"y <- \xC3\xA9\n", "d.R:1:6: field 'y': expected a number, found '\xC3\xA9'"},
  };
  for (const auto& [text, expected] : cases) BOOST_TEST(rdump_error(text) == expected, "for: " << text << " got: " << rdump_error(text));
}

// What a short text could expand to is bounded (as JSON is by the file size),
// and so is the recursion.
BOOST_AUTO_TEST_CASE(limits) {
  BOOST_TEST(rdump_error("y <- 1:1000000000000\n") ==
             "d.R:1:6: field 'y': the file has more than 2^29 values (the most a data file of 1 GiB can hold)");
  BOOST_TEST(rdump_error("y <- integer(600000000)\n") ==
             "d.R:1:6: field 'y': the file has more than 2^29 values (the most a data file of 1 GiB can hold)");
  BOOST_TEST(rdump_error("y <- integer(4e18)\n") ==
             "d.R:1:6: field 'y': the file has more than 2^29 values (the most a data file of 1 GiB can hold)");
  BOOST_TEST(rdump_error("y <- structure(integer(0), .Dim = 1:40)\n") ==
             "d.R:1:35: field 'y': .Dim has more than 32 dimensions (no declared type has that many)");
  std::string deep = "y <- ";
  for (int i = 0; i < 100000; ++i) deep += "c(";
  BOOST_TEST(rdump_error(deep) == "d.R:1:70: field 'y': c(...) is nested more than 32 deep");
  BOOST_TEST(rdump_error(std::string("y <- c(1,\0 2)", 13)) == "d.R: not an R dump text file (it contains binary data)");
  // A zero-size array: its dims are kept.
  DataSet r = rdump("m <- structure(integer(0), .Dim = c(0L, 3L))\n");
  BOOST_TEST(r.find("m")->dims == (std::vector<int64_t>{0, 3}));
}

// Mutated files (bytes changed, inserted, cut) either read or fail with a
// UserError: never another exception or a crash (the fuzz targets cover JSON).
BOOST_AUTO_TEST_CASE(mutated_files_fail_cleanly) {
  std::mt19937_64 rng(11);
  const std::string base = kStanRdump;
  const std::string alphabet = "0123456789.,-+eELx()<-=:;#\"'` \n\tcNAInfaTRUEstructureDimintegerdouble\x01\xff";
  int read = 0, refused = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string text = base;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const size_t at = rng() % text.size();
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 4) {
        case 0: text[at] = c; break;
        case 1: text.insert(at, 1, c); break;
        case 2: text.erase(at, 1 + rng() % 8); break;
        default: text.resize(at); break;
      }
    }
    try {
      rdump_data_from_string(text, "m.R");
      ++read;
    } catch (const UserError& e) {
      ++refused;
      BOOST_TEST(std::string(e.what()).rfind("m.R", 0) == 0, e.what());
    } catch (const std::exception& e) {
      BOOST_FAIL("not a UserError for: " << text << "\n" << e.what());
    }
  }
  BOOST_TEST(read > 100);
  BOOST_TEST(refused > 100);
}

BOOST_AUTO_TEST_CASE(format_by_extension_then_content) {
  BOOST_TEST((data_format_of("d.json", "N <- 3") == DataFormat::Json));
  BOOST_TEST((data_format_of("d.data.R", "{}") == DataFormat::RDump));
  BOOST_TEST((data_format_of("d.r", "") == DataFormat::RDump));
  BOOST_TEST((data_format_of("d.txt", "  N <- 3") == DataFormat::RDump));
  BOOST_TEST((data_format_of("d.txt", "\"N\" = 3") == DataFormat::RDump));
  BOOST_TEST((data_format_of("d", "# data\n") == DataFormat::RDump));
  BOOST_TEST((data_format_of("d", "{\"N\": 3}") == DataFormat::Json));
  BOOST_TEST((data_format_of("d", "\"N\"") == DataFormat::Json));
  BOOST_TEST((data_format_of("d", "") == DataFormat::Json));

  TempDir dir;
  const std::string r = dir.write("d.data.R", kStanRdump);
  const std::string plain = dir.write("d.txt", kStanRdump);
  const std::string json = dir.write("d.json", kJsonlite);
  check_same(read_data_file(r), read_data_file(json));
  check_same(read_data_file(plain), read_data_file(json));
  BOOST_TEST(read_data_file(r).source() == r);
  BOOST_TEST(error_of([&] { read_data_file(dir.file("missing.R"), "init file"); }) ==
             "cannot read init file '" + dir.file("missing.R") + "': no such file");
}

BOOST_AUTO_TEST_CASE(api_reads_either_format) {
  TempDir dir;
  latent::Data r = latent::Data::from_file(dir.write("d.data.R", kStanRdump));
  latent::Data j = latent::Data::from_file(dir.write("d.json", kJsonlite));
  BOOST_TEST(r.names() == j.names());
  for (const std::string& name : j.names()) {
    BOOST_TEST(r.dims(name) == j.dims(name));
    BOOST_TEST(r.values(name) == j.values(name));
  }
  BOOST_TEST(contains(error_of([&] {
               try {
                 latent::Data::from_file(dir.write("bad.R", "y <- c(1,, 2)\n"));
               } catch (const latent::Error& e) {
                 throw UserError(e.what());
               }
             }),
             "bad.R:1:10: field 'y': expected a number, found ','"));
}

// The whole command: --data file.R and --init file.R give what JSON gives.
BOOST_AUTO_TEST_CASE(cli_reads_rdump_data_and_init) {
  TempDir dir;
  const std::string model = dir.write("m.lat", R"(
data { int N; vector[N] y; matrix[2, 3] X; array[1] real one; }
parameters { real mu; real<lower=0> sigma; }
model { y ~ normal(mu + X[2, 3] + one[1], sigma); }
)");
  dir.write("d.json", R"({"N": 3, "y": [1, 2, 4], "X": [[1, 2, 3], [4, 5, 6]], "one": [0.5]})");
  dir.write("d.data.R", "N <- 3L\ny <- c(1, 2, 4)\nX <- structure(c(1, 4, 2, 5, 3, 6), .Dim = c(2, 3))\none <- 0.5\n");
  dir.write("init.json", R"({"mu": 0.25, "sigma": 1.5})");
  dir.write("init.R", "mu <- 0.25\nsigma <- 1.5\n");
  auto grad = [&](const std::string& data, const std::string& init) {
    return run_latent({"grad", model, "--data", dir.file(data), "--at", dir.file(init)}, dir);
  };
  RunResult json = grad("d.json", "init.json");
  RunResult r = grad("d.data.R", "init.R");
  BOOST_TEST(json.exit_code == 0, json);
  BOOST_TEST(r.exit_code == 0, r);
  BOOST_TEST(r.out == json.out);

  RunResult fit_json = run_latent({"fit", model, "--data", dir.file("d.json"), "--init", dir.file("init.json"), "-q"}, dir);
  RunResult fit_r = run_latent({"fit", model, "--data", dir.file("d.data.R"), "--init", dir.file("init.R"), "-q"}, dir);
  BOOST_TEST(fit_json.exit_code == 0, fit_json);
  // The same estimate; the CSV's header names the data and init files.
  auto without_files = [&](std::string csv) {
    for (const char* name : {"d.data.R", "d.json", "init.R", "init.json"}) {
      const std::string path = dir.file(name);
      for (size_t at = csv.find(path); at != std::string::npos; at = csv.find(path)) csv.replace(at, path.size(), "FILE");
    }
    return csv;
  };
  BOOST_TEST(contains(fit_r.out, "#   file = " + dir.file("d.data.R") + "\n"));
  BOOST_TEST(without_files(fit_r.out) == without_files(fit_json.out));

  dir.write("bad.R", "N <- 3L\ny <- c(1, 2, 4)\nX <- structure(c(1, 4, 2, 5, 3, 6), .Dim = c(3, 2))\none <- 0.5\n");
  RunResult bad = run_latent({"grad", model, "--data", dir.file("bad.R")}, dir);
  BOOST_TEST(bad.exit_code == 1, bad);
  BOOST_TEST(bad.err == dir.file("bad.R") + ": field 'X': expected an array with dims [2, 3], found an array with dims [3, 2]\n");
}
