// MADE (examples/made): binary data from a known autoregressive distribution
// (x2 copies x1, x4 is the xor of x2 and x3, each with noise), a masked
// network whose masks autoregressive_mask and autoregressive_output_mask build
// from the degrees, trained by SVI. Its exact log-likelihood reaches the
// distribution's entropy, its samples (drawn pixel by pixel) have the
// distribution's dependences, and masks that let an output read its own pixel
// are refused by `sample`.
#define BOOST_TEST_MODULE made
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

#include <cmath>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

const double kP1 = 0.3, kCopy = 0.9, kP3 = 0.5, kXor = 0.95;

// `output_mask` names the function building the output layer's mask.
std::string made_model(const std::string& output_mask) {
  return "data { int<plate> N; int<lower=2> D; int<lower=1> H; matrix<lower=0, upper=1>[N, D] x; }\n"
         "transformed data {\n"
         "  array[D] int order;\n"
         "  array[H] int degree;\n"
         "  for (d in 1:D) order[d] = d;\n"
         "  for (j in 1:H) degree[j] = 1 + ((j - 1) * (D - 1)) %/% H;\n"
         "}\n"
         "network {\n"
         "  dense hidden(D, H, autoregressive_mask(order, degree));\n"
         "  dense output(H, D, " + output_mask + "(degree, order));\n"
         "}\n"
         "model { x ~ bernoulli_logit(output(relu(hidden(x)))); }\n";
}

std::vector<std::array<int, 4>> draws(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::array<int, 4>> rows;
  for (int i = 0; i < n; ++i) {
    int x1 = u(rng) < kP1, x2 = u(rng) < kCopy ? x1 : 1 - x1, x3 = u(rng) < kP3;
    int x4 = u(rng) < kXor ? x2 ^ x3 : 1 - (x2 ^ x3);
    rows.push_back({x1, x2, x3, x4});
  }
  return rows;
}

std::string as_json(const std::vector<std::array<int, 4>>& rows) {
  std::ostringstream s;
  s << "{\"N\": " << rows.size() << ", \"D\": 4, \"H\": 16, \"x\": [";
  for (size_t r = 0; r < rows.size(); ++r)
    s << (r ? "," : "") << "[" << rows[r][0] << "," << rows[r][1] << "," << rows[r][2] << "," << rows[r][3] << "]";
  s << "]}";
  return s.str();
}

double binary_entropy(double p) { return -p * std::log(p) - (1 - p) * std::log(1 - p); }

// Writes the model with `output_mask` and `rows` training draws into dir and fits
// it by SVI (batch 500, lr 0.01); returns the model's path; the fit is made.fit.
std::string fitted_model(const TempDir& dir, const std::string& output_mask, int rows, int epochs) {
  std::string model = dir.write("made.lat", made_model(output_mask));
  std::string data = dir.write("train.json", as_json(draws(rows, 1)));
  RunResult r = run_latent({"fit", model, "--data", data, "--method", "svi", "--batch", "500", "--epochs",
                            std::to_string(epochs), "--lr", "0.01", "--threads", "2", "--seed", "1", "--output",
                            dir.file("made.fit"), "-q"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  return model;
}

}  // namespace

BOOST_AUTO_TEST_CASE(made_fits_evaluates_and_samples_exactly) {
  TempDir dir;
  std::string model = fitted_model(dir, "autoregressive_output_mask", 20000, 40);
  std::string fit = dir.file("made.fit");
  RunResult r = run_latent({"eval", model, "--data", dir.file("train.json"), "--fit", fit}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  const std::string key = "log_likelihood_per_datum ";
  BOOST_REQUIRE_MESSAGE(r.out.find(key) != std::string::npos, r);
  double ll = std::stod(r.out.substr(r.out.find(key) + key.size()));
  double entropy = binary_entropy(kP1) + binary_entropy(kCopy) + binary_entropy(kP3) + binary_entropy(kXor);
  BOOST_TEST(std::fabs(ll + entropy) < 0.03, "log-likelihood " << ll << ", entropy " << entropy);

  // Samples: x2 copies x1 and x4 is x2 xor x3 as often as in the distribution.
  const int n = 4000;
  r = run_latent({"sample", model, "--fit", fit, "--n", std::to_string(n), "--seed", "3", "--csv", dir.file("s.csv"),
                  "-q"},
                 dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  std::istringstream csv(read_text(dir.file("s.csv")));
  std::string line;
  std::getline(csv, line);  // header
  int rows = 0, copies = 0, xors = 0;
  while (std::getline(csv, line)) {
    std::array<int, 4> x{};
    std::istringstream cells(line);
    std::string cell;
    for (int& v : x) {
      BOOST_REQUIRE(std::getline(cells, cell, ','));
      v = static_cast<int>(std::lround(std::stod(cell)));
      BOOST_REQUIRE(v == 0 || v == 1);
    }
    ++rows;
    copies += x[1] == x[0];
    xors += x[3] == (x[1] ^ x[2]);
  }
  BOOST_REQUIRE_EQUAL(rows, n);
  BOOST_TEST(std::fabs(copies / double(n) - kCopy) < 4 * std::sqrt(kCopy * (1 - kCopy) / n), copies);
  BOOST_TEST(std::fabs(xors / double(n) - kXor) < 4 * std::sqrt(kXor * (1 - kXor) / n), xors);
}

BOOST_AUTO_TEST_CASE(an_output_that_reads_its_own_pixel_is_refused_by_sample) {
  // autoregressive_mask on the output layer lets output d read hidden units of
  // degree d, which read pixel d: not autoregressive.
  TempDir dir;
  std::string model = fitted_model(dir, "autoregressive_mask", 1000, 2);
  RunResult r = run_latent({"sample", model, "--fit", dir.file("made.fit"), "--n", "5", "--csv", dir.file("s.csv")}, dir);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(contains(r.err, "feeds its own distribution"), r);
  BOOST_TEST(!std::filesystem::exists(dir.file("s.csv")));
}
