// CmdStan-style CSV output and atomic file writing.
#define BOOST_TEST_MODULE output
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/source.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/csv.hpp"

using namespace latent;
namespace fs = std::filesystem;

namespace {

using Names = std::vector<std::string>;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("latent_test_output_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

// ------------------------------------------------------------ column names

BOOST_AUTO_TEST_CASE(scalar_and_vector_names) {
  BOOST_TEST(cmdstan_column_names("mu", {}, false) == Names{"mu"});
  BOOST_TEST(cmdstan_column_names("theta", {3}, false) ==
             (Names{"theta.1", "theta.2", "theta.3"}));
  BOOST_TEST(cmdstan_column_names("empty", {0}, false).empty());
  BOOST_TEST(cmdstan_column_names("e2", {3, 0}, true).empty());
}

BOOST_AUTO_TEST_CASE(matrix_names_are_column_major) {
  BOOST_TEST(cmdstan_column_names("m", {2, 3}, true) ==
             (Names{"m.1.1", "m.2.1", "m.1.2", "m.2.2", "m.1.3", "m.2.3"}));
}

BOOST_AUTO_TEST_CASE(array_of_vectors_is_row_major) {
  BOOST_TEST(cmdstan_column_names("a", {2, 3}, false) ==
             (Names{"a.1.1", "a.1.2", "a.1.3", "a.2.1", "a.2.2", "a.2.3"}));
}

BOOST_AUTO_TEST_CASE(array_of_matrices) {
  // arrays row-major, each matrix column-major
  BOOST_TEST(cmdstan_column_names("a", {2, 2, 2}, true) ==
             (Names{"a.1.1.1", "a.1.2.1", "a.1.1.2", "a.1.2.2", "a.2.1.1", "a.2.2.1", "a.2.1.2",
                    "a.2.2.2"}));
  // position i*rows*cols + c*rows + r  ->  a.(i+1).(r+1).(c+1)
  Names n = cmdstan_column_names("b", {2, 3, 4}, true);
  BOOST_REQUIRE(n.size() == 24u);
  for (int i = 0; i < 2; ++i)
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 4; ++c)
        BOOST_TEST(n[i * 12 + c * 3 + r] ==
                   "b." + std::to_string(i + 1) + "." + std::to_string(r + 1) + "." +
                       std::to_string(c + 1));
  // 2-d arrays of vectors: everything row-major
  BOOST_TEST(cmdstan_column_names("z", {2, 2, 2}, false)[1] == "z.1.1.2");
}

// ----------------------------------------------------------------- numbers

BOOST_AUTO_TEST_CASE(numbers_round_trip_shortest) {
  BOOST_TEST(format_double(0.1) == "0.1");
  BOOST_TEST(format_double(3) == "3");
  BOOST_TEST(format_double(-2.5) == "-2.5");
  BOOST_TEST(format_double(1e100) == "1e+100");
  BOOST_TEST(format_double(INFINITY) == "inf");
  BOOST_TEST(format_double(-INFINITY) == "-inf");
  BOOST_TEST(format_double(std::nan("")) == "nan");
  for (double v : {1.0 / 3.0, M_PI, 6.02214076e23, 5e-324, -1.7976931348623157e308, 0.3}) {
    std::string s = format_double(v);
    BOOST_TEST(std::strtod(s.c_str(), nullptr) == v, s);
    BOOST_TEST(s.size() <= 24u, s);
  }
}

// --------------------------------------------------------------------- CSV

BOOST_AUTO_TEST_CASE(csv_text) {
  CsvWriter csv;
  csv.comment("latent 0.1.0");
  csv.comment("method = optimize\n  algorithm = lbfgs\n");
  csv.header({"lp__", "mu", "theta.1"});
  csv.row({-7.25, 0.1, 3});
  csv.comment("after the rows");
  csv.row(std::vector<double>{1, -INFINITY, std::nan("")});
  BOOST_TEST(csv.rows() == 2u);
  BOOST_TEST(csv.columns() == 3u);
  BOOST_TEST(csv.text() ==
             "# latent 0.1.0\n"
             "# method = optimize\n"
             "#   algorithm = lbfgs\n"
             "#\n"
             "lp__,mu,theta.1\n"
             "-7.25,0.1,3\n"
             "# after the rows\n"
             "1,-inf,nan\n");
  BOOST_CHECK_THROW(csv.row({1, 2}), std::logic_error);
  CsvWriter no_header;
  BOOST_CHECK_THROW(no_header.row({1}), std::logic_error);
}

BOOST_AUTO_TEST_CASE(csv_save) {
  TempDir dir;
  CsvWriter csv;
  csv.header({"a"});
  csv.row({1.5});
  const fs::path out = dir.path / "fit.csv";
  csv.save(out.string());
  BOOST_TEST(slurp(out) == "a\n1.5\n");
  BOOST_TEST(dir.listing() == Names{"fit.csv"});
}

// ------------------------------------------------------------ atomic write

BOOST_AUTO_TEST_CASE(atomic_write_replaces_and_leaves_no_temp) {
  TempDir dir;
  const fs::path out = dir.path / "out.txt";
  write_file_atomically(out.string(), "first\n");
  BOOST_TEST(slurp(out) == "first\n");
  write_file_atomically(out.string(), std::string(1 << 20, 'x'));
  BOOST_TEST(slurp(out).size() == size_t(1) << 20);
  write_file_atomically(out.string(), "");
  BOOST_TEST(slurp(out).empty());
  BOOST_TEST(dir.listing() == Names{"out.txt"});
  // a relative path (no directory part) works too
  fs::path old = fs::current_path();
  fs::current_path(dir.path);
  write_file_atomically("rel.txt", "r");
  fs::current_path(old);
  BOOST_TEST(slurp(dir.path / "rel.txt") == "r");
  BOOST_TEST(dir.listing() == (Names{"out.txt", "rel.txt"}));
}

BOOST_AUTO_TEST_CASE(atomic_write_failures) {
  TempDir dir;
  const std::string missing = (dir.path / "no_such_dir" / "fit.csv").string();
  try {
    write_file_atomically(missing, "x");
    BOOST_FAIL("expected a UserError");
  } catch (const UserError& e) {
    BOOST_TEST(std::string(e.what()) ==
               "cannot write '" + missing + "': directory '" + (dir.path / "no_such_dir").string() +
                   "' does not exist");
  }
  BOOST_CHECK_THROW(write_file_atomically(dir.path.string(), "x"), UserError);
  // a file used as a directory
  write_file_atomically((dir.path / "plain").string(), "x");
  BOOST_CHECK_THROW(write_file_atomically((dir.path / "plain" / "f").string(), "x"), UserError);

  // an existing target in a read-only directory is left untouched
  const fs::path ro = dir.path / "ro";
  fs::create_directories(ro);
  write_file_atomically((ro / "keep.csv").string(), "old");
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec);
  if (::geteuid() != 0) {  // root ignores permissions
    try {
      write_file_atomically((ro / "keep.csv").string(), "new");
      BOOST_FAIL("expected a UserError");
    } catch (const UserError& e) {
      BOOST_TEST(std::string(e.what()).find("cannot write '" + (ro / "keep.csv").string() +
                                            "': ") == 0u);
    }
    BOOST_TEST(slurp(ro / "keep.csv") == "old");
  }
  fs::permissions(ro, fs::perms::owner_all);
  std::vector<std::string> left;
  for (const auto& e : fs::directory_iterator(ro)) left.push_back(e.path().filename().string());
  BOOST_TEST(left == Names{"keep.csv"});
  BOOST_TEST(dir.listing() == (Names{"plain", "ro"}));
}
