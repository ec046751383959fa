// rstan::read_stan_csv() on latent's CSV files, run through Rscript when R and
// rstan are installed (Debian's r-cran-rstan; R's posterior package on the result
// when r-cran-posterior is); skipped with a message otherwise.
// ADVI and NUTS files are read as stanfit objects whose draws are the file's;
// MAP files follow CmdStan's optimize layout, which rstan 2.21 does not read
// (it needs a sampler's warmup/thin keys): the test pins down that it treats
// latent's exactly as a CmdStan optimize file, and reads the header keys.
#define BOOST_TEST_MODULE rstan_csv
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

using namespace latent;
using namespace latent::testing;

namespace {

bool rstan_available() {
  static const bool available =
      std::system("Rscript -e 'suppressMessages(library(rstan))' >/dev/null 2>&1") == 0;
  return available;
}

// Runs an R script (with rstan loaded) and returns its standard output.
std::string run_r(const TempDir& dir, const std::string& script) {
  const std::string path = dir.write("script.R", "suppressMessages(library(rstan))\n" + script);
  const std::string out = dir.file("r.out");
  const std::string cmd = "Rscript " + shell_quote(path) + " >" + shell_quote(out) + " 2>" + shell_quote(dir.file("r.err"));
  const int status = std::system(cmd.c_str());
  BOOST_REQUIRE_MESSAGE(status == 0, "Rscript failed:\n" << read_text(dir.file("r.err")));
  return read_text(out);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

std::vector<std::string> lines_of(const std::string& text) { return split(text, '\n'); }

// The header and the rows of a CmdStan CSV (comments skipped).
struct Csv {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
};
Csv read_csv(const std::string& path) {
  Csv c;
  for (const std::string& line : lines_of(read_text(path))) {
    if (line.empty() || line[0] == '#') continue;
    if (c.header.empty()) {
      c.header = split(line, ',');
      continue;
    }
    std::vector<double> row;
    for (const std::string& cell : split(line, ',')) row.push_back(std::stod(cell));
    c.rows.push_back(row);
  }
  return c;
}

// as.matrix(stanfit) written by R: the column names, then one row per draw.
const char* const kWriteMatrix = R"(
write_matrix <- function(fit) {
  m <- as.matrix(fit)
  cat(paste(colnames(m), collapse = ","), "\n", sep = "")
  for (i in seq_len(nrow(m))) cat(paste(sprintf("%.17g", m[i, ]), collapse = ","), "\n", sep = "")
}
)";

// R's names (b[1]) to CmdStan's (b.1).
std::string cmdstan_name(std::string r_name) {
  for (char& c : r_name)
    if (c == '[' || c == ',') c = '.';
  r_name.erase(std::remove(r_name.begin(), r_name.end(), ']'), r_name.end());
  return r_name;
}

// Every column R returns equals the file's column, draw by draw (R's text-to-double
// conversion is not always correctly rounded: a relative 1e-15).
void expect_same_draws(const std::string& r_output, const std::vector<Csv>& files, size_t skip_rows) {
  std::vector<std::string> lines = lines_of(r_output);
  BOOST_REQUIRE(!lines.empty());
  const std::vector<std::string> names = split(lines[0], ',');
  size_t expected_rows = 0;
  for (const Csv& f : files) expected_rows += f.rows.size() - skip_rows;
  BOOST_REQUIRE_EQUAL(lines.size() - 1, expected_rows);
  size_t line = 1;
  for (const Csv& f : files) {
    for (size_t r = skip_rows; r < f.rows.size(); ++r, ++line) {
      const std::vector<std::string> cells = split(lines[line], ',');
      BOOST_REQUIRE_EQUAL(cells.size(), names.size());
      for (size_t k = 0; k < names.size(); ++k) {
        auto it = std::find(f.header.begin(), f.header.end(), cmdstan_name(names[k]));
        BOOST_REQUIRE_MESSAGE(it != f.header.end(), "R's column " << names[k] << " is not in the file");
        const double file_value = f.rows[r][static_cast<size_t>(it - f.header.begin())];
        BOOST_TEST(close_rel(std::stod(cells[k]), file_value, 1e-15), names[k] << " row " << r);
      }
    }
  }
}

const char* const kModel = R"(
parameters { vector[2] b; real<lower=0> s; }
model { b ~ normal(0, 1); s ~ gamma(3, 2); }
generated quantities { real t = b[1] + s; }
)";

}  // namespace

BOOST_AUTO_TEST_CASE(advi_csv_is_a_stanfit) {
  if (!rstan_available()) {
    BOOST_TEST_MESSAGE("skipped: Rscript with rstan is not installed (Debian: r-cran-rstan)");
    return;
  }
  TempDir dir;
  const std::string model = dir.write("m.lat", kModel);
  for (const char* method : {"advi", "fullrank"}) {
    BOOST_TEST_CONTEXT(method) {
      const std::string csv = dir.file(std::string(method) + ".csv");
      RunResult r = run_latent({"fit", model, "--method", method, "--draws", "60", "-q", "-o", csv}, dir);
      BOOST_REQUIRE_MESSAGE(r.exit_code == 0 || r.exit_code == 3, r);
      std::string out = run_r(dir, std::string(kWriteMatrix) + "fit <- read_stan_csv('" + csv + "')\n" +
                                       "cat(fit@stan_args[[1]]$method, fit@sim$chains, fit@sim$iter, "
                                       "fit@stan_args[[1]]$algorithm, '\\n')\nwrite_matrix(fit)\n");
      const size_t first_newline = out.find('\n');
      const std::string family = std::string(method) == "advi" ? "meanfield" : "fullrank";
      BOOST_TEST(out.substr(0, first_newline) == "variational 1 60 " + family + " ");
      // The mean (the first row) is dropped: R has the 60 draws.
      expect_same_draws(out.substr(first_newline + 1), {read_csv(csv)}, 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(nuts_csv_is_a_stanfit) {
  if (!rstan_available()) {
    BOOST_TEST_MESSAGE("skipped: Rscript with rstan is not installed (Debian: r-cran-rstan)");
    return;
  }
  TempDir dir;
  const std::string model = dir.write("m.lat", kModel);
  RunResult r = run_latent({"fit", model, "--method", "nuts", "--chains", "2", "--warmup", "150", "--samples", "80",
                            "-q", "-o", dir.file("d.csv")},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  const std::string a = dir.file("d_1.csv"), b = dir.file("d_2.csv");
  std::string out = run_r(dir, std::string(kWriteMatrix) + "fit <- read_stan_csv(c('" + a + "', '" + b + "'))\n" +
                                   "cat(fit@sim$chains, fit@sim$iter, fit@sim$warmup, fit@stan_args[[1]]$sampler_t, "
                                   "'\\n')\nwrite_matrix(fit)\n");
  const size_t first_newline = out.find('\n');
  BOOST_TEST(out.substr(0, first_newline) == "2 230 150 NUTS(diag_e) ");
  // as.matrix stacks the chains' kept draws (rstan's permutation only reorders extract()).
  expect_same_draws(out.substr(first_newline + 1), {read_csv(a), read_csv(b)}, 0);
}

bool posterior_available() {
  static const bool available =
      rstan_available() && std::system("Rscript -e 'suppressMessages(library(posterior))' >/dev/null 2>&1") == 0;
  return available;
}

// R's posterior package (Debian's r-cran-posterior) on the stanfits rstan reads:
// draws, chains and variables as in the files.
BOOST_AUTO_TEST_CASE(posterior_reads_the_stanfits) {
  if (!posterior_available()) {
    BOOST_TEST_MESSAGE("skipped: R's posterior package is not installed (Debian: r-cran-posterior)");
    return;
  }
  TempDir dir;
  const std::string model = dir.write("m.lat", kModel);
  RunResult advi = run_latent({"fit", model, "--method", "advi", "--draws", "30", "-q", "-o", dir.file("a.csv")}, dir);
  RunResult nuts = run_latent({"fit", model, "--method", "nuts", "--chains", "2", "--warmup", "100", "--samples",
                               "50", "-q", "-o", dir.file("n.csv")},
                              dir);
  BOOST_REQUIRE_MESSAGE(advi.exit_code == 0 || advi.exit_code == 3, advi);
  BOOST_REQUIRE_MESSAGE(nuts.exit_code == 0, nuts);
  std::string out = run_r(dir, "suppressMessages(library(posterior))\n"
                               "show <- function(files) {\n"
                               "  d <- as_draws_array(read_stan_csv(files))\n"
                               "  cat(ndraws(d), nchains(d), niterations(d), paste(variables(d), collapse = ','),\n"
                               "      sprintf('%.17g', mean(extract_variable(d, 'b[2]'))), '\\n')\n"
                               "}\n"
                               "show('" + dir.file("a.csv") + "')\n"
                               "show(c('" + dir.file("n_1.csv") + "', '" + dir.file("n_2.csv") + "'))\n");
  std::vector<std::string> lines = lines_of(out);
  BOOST_REQUIRE(lines.size() >= 2u);
  auto mean_of = [](const std::vector<Csv>& files, size_t skip) {
    double sum = 0;
    size_t n = 0;
    for (const Csv& f : files) {
      const size_t c = static_cast<size_t>(std::find(f.header.begin(), f.header.end(), "b.2") - f.header.begin());
      for (size_t r = skip; r < f.rows.size(); ++r, ++n) sum += f.rows[r].at(c);
    }
    return sum / static_cast<double>(n);
  };
  std::vector<std::string> a = split(lines[0], ' '), n = split(lines[1], ' ');
  BOOST_REQUIRE(a.size() >= 5u);
  BOOST_REQUIRE(n.size() >= 5u);
  BOOST_TEST(a[0] + " " + a[1] + " " + a[2] == "30 1 30");
  BOOST_TEST(a[3] == "log_p__,log_g__,b[1],b[2],s,t,lp__");  // rstan keeps ADVI's log_p__/log_g__ as variables
  BOOST_TEST(close_rel(std::stod(a[4]), mean_of({read_csv(dir.file("a.csv"))}, 1), 1e-13));
  BOOST_TEST(n[0] + " " + n[1] + " " + n[2] == "100 2 50");
  BOOST_TEST(n[3] == "b[1],b[2],s,t,lp__");
  BOOST_TEST(close_rel(std::stod(n[4]), mean_of({read_csv(dir.file("n_1.csv")), read_csv(dir.file("n_2.csv"))}, 0), 1e-13));
}

// rstan 2.21 reads optimize output of neither CmdStan nor latent ("not all are
// integers": it needs warmup and thin); its comment parser reads latent's header
// keys as CmdStan's.
BOOST_AUTO_TEST_CASE(map_csv_reads_as_cmdstan_optimize_output) {
  if (!rstan_available()) {
    BOOST_TEST_MESSAGE("skipped: Rscript with rstan is not installed (Debian: r-cran-rstan)");
    return;
  }
  TempDir dir;
  const std::string model = dir.write("m.lat", kModel);
  const std::string csv = dir.file("map.csv");
  RunResult r = run_latent({"fit", model, "-q", "-o", csv}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  // The layout CmdStan 2.26 writes for `optimize` (its keys and nesting).
  const std::string cmdstan = dir.write("cmdstan.csv",
                                        "# stan_version_major = 2\n# stan_version_minor = 26\n# stan_version_patch = 1\n"
                                        "# model = m_model\n# method = optimize\n#   optimize\n"
                                        "#     algorithm = lbfgs (Default)\n#       lbfgs\n"
                                        "#         init_alpha = 0.001 (Default)\n#     iter = 2000 (Default)\n"
                                        "#     save_iterations = 0 (Default)\n# id = 0 (Default)\n# data\n"
                                        "#   file =  (Default)\n# init = 2 (Default)\n# random\n#   seed = 1\n"
                                        "lp__,b.1,b.2,s,t\n-1.5,0,0,1,1\n");
  std::string out = run_r(dir, "err <- function(f) tryCatch({ read_stan_csv(f); 'read' }, error = function(e) "
                               "conditionMessage(e))\n"
                               "cat(err('" + csv + "'), '|', err('" + cmdstan + "'), '\\n', sep = '')\n"
                               "comments <- grep('^#', readLines('" + csv + "'), value = TRUE)\n"
                               "a <- suppressWarnings(rstan:::parse_stancsv_comments(comments))\n"
                               "cat(a$method, a$algorithm, a$iter, a$init_alpha, a$seed, '\\n')\n"
                               "v <- read.csv('" + csv + "', comment.char = '#')\n"
                               "cat(paste(names(v), collapse = ','), sprintf('%.17g', v$b.1), '\\n')\n");
  std::vector<std::string> lines = lines_of(out);
  BOOST_REQUIRE(lines.size() >= 3u);
  BOOST_TEST(lines[0] == "not all are integers|not all are integers");
  BOOST_TEST(lines[1] == "optimize lbfgs 2000 0.001 0 ");
  Csv map = read_csv(csv);
  std::vector<std::string> cells = split(lines[2], ' ');
  BOOST_REQUIRE(cells.size() >= 2u);
  BOOST_TEST(cells[0] == "lp__,b.1,b.2,s,t");
  BOOST_TEST(close_rel(std::stod(cells[1]), map.rows.at(0).at(1), 1e-15));
}
