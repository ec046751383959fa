// CmdStan's --init R for every method that takes --init (cli/init_option.cpp,
// runtime/inference/initial_point.cpp):
// 0 is the point 0, R draws uniform(-R, R) on the unconstrained scale, a bad
// radius is an error naming --init.
#define BOOST_TEST_MODULE init_option
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

#include "runtime/inference/initial_point.hpp"

using namespace latent;
using namespace latent::testing;

namespace {

// The last line of a MAP CSV as numbers (lp__, then the columns).
std::vector<double> last_row(const std::string& csv) {
  std::string text = csv;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  std::istringstream line(text.substr(text.rfind('\n') + 1));
  std::vector<double> row;
  std::string cell;
  while (std::getline(line, cell, ',')) row.push_back(std::stod(cell));
  return row;
}

const char* const kFlat = R"(
parameters { real a; real b; real<lower=0> c; }
model { a ~ normal(1, 1); }
)";

// log|x| is -inf at x = 0 only: the point 0 is refused, any other start works.
const char* const kSingularAtZero = R"(
parameters { real x; }
model { target += log(fabs(x)) - square(x); }
)";

}  // namespace

// The option is read before anything runs (CLI code is in the binary only).
BOOST_AUTO_TEST_CASE(bad_radii_and_files) {
  TempDir dir;
  const std::string model = dir.write("flat.lat", kFlat);
  for (const char* bad : {"-1", "nan", "inf", "1e400", "-0.5"}) {
    RunResult r = run_latent({"fit", model, "--init", bad}, dir);
    BOOST_TEST(r.exit_code == 1, r);
    BOOST_TEST(r.err == std::string("--init: a radius must be a finite number, 0 or more (initial values uniform(-R, R) "
                                    "on the unconstrained scale), got '") + bad + "'\n",
               r);
  }
  // Anything that is not a whole number is a file name, as CmdStan reads it.
  RunResult file = run_latent({"fit", model, "--init", "0.5x"}, dir);
  BOOST_TEST(file.exit_code == 1, file);
  BOOST_TEST(file.err == "cannot read init file '0.5x': no such file\n", file);
}

// Draws uniform(-R, R): within the bounds, mean about 0, variance about R^2/3.
BOOST_AUTO_TEST_CASE(random_points_are_uniform_within_the_radius) {
  auto m = make_model("parameters { vector[4] v; } model { v ~ normal(0, 1); }");
  std::mt19937_64 rng(3);
  for (double radius : {0.0, 0.25, 5.0}) {
    double sum = 0, sum2 = 0, largest = 0;
    const int points = 5000;
    for (int i = 0; i < points; ++i)
      for (double x : find_initial_point(*m, nullptr, true, rng, radius)) {
        sum += x;
        sum2 += x * x;
        largest = std::max(largest, std::fabs(x));
      }
    const double n = 4.0 * points, mean = sum / n, var = sum2 / n - mean * mean;
    BOOST_TEST_CONTEXT("radius " << radius) {
      BOOST_TEST(largest <= radius);
      if (radius == 0) {
        BOOST_TEST(largest == 0);
        continue;
      }
      const double sd_of_mean = radius / std::sqrt(3 * n);
      BOOST_TEST(std::fabs(mean) < 5 * sd_of_mean);
      BOOST_TEST(std::fabs(var / (radius * radius / 3) - 1) < 0.05);
      BOOST_TEST(largest > 0.99 * radius);
    }
  }
}

// MAP leaves a parameter the density does not depend on where it started:
// --init 0 gives 0 (and 1 for <lower=0>), --init R a value within R.
BOOST_AUTO_TEST_CASE(map_starts_where_init_says) {
  TempDir dir;
  const std::string model = dir.write("flat.lat", kFlat);
  RunResult zero = run_latent({"fit", model, "--init", "0", "-q"}, dir);
  BOOST_REQUIRE_MESSAGE(zero.exit_code == 0, zero);
  std::vector<double> row = last_row(zero.out);
  BOOST_REQUIRE(row.size() == 4u);
  BOOST_TEST(std::fabs(row[1] - 1) < 1e-8);
  BOOST_TEST(row[2] == 0);
  BOOST_TEST(row[3] == 1);
  bool beyond_small_radius = false;
  for (int seed = 1; seed <= 4; ++seed) {
    RunResult small = run_latent({"fit", model, "--init", "0.3", "--seed", std::to_string(seed), "-q"}, dir);
    BOOST_REQUIRE_MESSAGE(small.exit_code == 0, small);
    row = last_row(small.out);
    BOOST_TEST(std::fabs(row[2]) <= 0.3);
    BOOST_TEST(row[2] != 0);
    BOOST_TEST(std::fabs(std::log(row[3])) <= 0.3 + 1e-12);
    RunResult wide = run_latent({"fit", model, "--seed", std::to_string(seed), "-q"}, dir);
    row = last_row(wide.out);
    BOOST_TEST(std::fabs(row[2]) <= 2);
    beyond_small_radius |= std::fabs(row[2]) > 0.3;
  }
  BOOST_TEST(beyond_small_radius);  // the default is R = 2
}

// Every method that takes --init starts at 0 with --init 0 (the message says
// so) and elsewhere with --init R.
BOOST_AUTO_TEST_CASE(every_method_takes_a_radius) {
  TempDir dir;
  const std::string model = dir.write("singular.lat", kSingularAtZero);
  for (const char* method : {"map", "laplace", "advi", "fullrank", "dadvi", "nuts"}) {
    BOOST_TEST_CONTEXT(method) {
      std::vector<std::string> args = {"fit", model, "--method", method, "-q", "-o", dir.file("out.csv")};
      if (std::string(method) == "nuts") args.insert(args.end(), {"--chains", "1", "--warmup", "100", "--samples", "100"});
      if (std::string(method) == "advi" || std::string(method) == "fullrank") args.insert(args.end(), {"--iter", "500"});
      std::vector<std::string> at_zero = args;
      at_zero.insert(at_zero.end(), {"--init", "0"});
      RunResult r = run_latent(at_zero, dir);
      BOOST_TEST(r.exit_code == 1, r);
      BOOST_TEST(contains(r.err, "the log density is not finite at the initial point 0 (all unconstrained parameters "
                                 "zero)"),
                 r);
      std::vector<std::string> nearby = args;
      nearby.insert(nearby.end(), {"--init", "0.5"});
      RunResult ok = run_latent(nearby, dir);
      // ADVI's relative ELBO change is noisy on this posterior: it may end at --iter (status 3).
      BOOST_TEST((ok.exit_code == 0 || ok.exit_code == 3), ok);
      BOOST_TEST(!contains(ok.err, "initial point"), ok);
    }
  }
  RunResult bad = run_latent({"fit", model, "--method", "advi", "--init", "-2"}, dir);
  BOOST_TEST(bad.exit_code == 1);
  BOOST_TEST(bad.err ==
             "--init: a radius must be a finite number, 0 or more (initial values uniform(-R, R) on the unconstrained "
             "scale), got '-2'\n");
}
