// An autoregressive model of sequences (examples/sequence_ar: a categorical per
// letter given the earlier ones through a masked network), trained by SVI on
// sequences from a known Markov chain, evaluated exactly and sampled letter by
// letter: the samples come from the model, so their average log-likelihood under
// it equals the held-out data's within Monte Carlo error (the model being well
// fitted: its training log-likelihood is the chain's entropy).
#define BOOST_TEST_MODULE sequence
#include <boost/test/unit_test.hpp>

#include "tests/support/fasta_file.hpp"
#include "tests/support/model_fixture.hpp"

#include <cmath>
#include <numeric>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

const std::string kAlphabet = "ACGT";
const int kLength = 8, kLetters = 4;
const double kStart[4] = {0.4, 0.1, 0.2, 0.3};
const double kTransition[4][4] = {{0.70, 0.10, 0.10, 0.10}, {0.05, 0.05, 0.45, 0.45},
                                  {0.25, 0.25, 0.25, 0.25}, {0.10, 0.60, 0.20, 0.10}};

int draw(std::mt19937_64& rng, const double* p) {
  double u = std::uniform_real_distribution<double>(0, 1)(rng), total = 0;
  for (int k = 0; k < kLetters; ++k)
    if (u < (total += p[k])) return k;
  return kLetters - 1;
}

// Data in the model's layout: one-hot letters, column (k - 1) * L + l.
std::string as_json(const std::vector<std::vector<int>>& rows) {
  std::ostringstream s;
  s << "{\"N\": " << rows.size() << ", \"L\": " << kLength << ", \"K\": " << kLetters << ", \"x\": [";
  for (size_t r = 0; r < rows.size(); ++r) {
    s << (r ? ",\n[" : "[");
    for (size_t c = 0; c < rows[r].size(); ++c) s << (c ? "," : "") << rows[r][c];
    s << "]";
  }
  s << "]}";
  return s.str();
}

std::vector<std::vector<int>> markov_sequences(int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int>> rows;
  for (int i = 0; i < n; ++i) {
    std::vector<int> row(kLetters * kLength, 0);
    int letter = draw(rng, kStart);
    for (int l = 0; l < kLength; ++l) {
      if (l > 0) letter = draw(rng, kTransition[letter]);
      row[static_cast<size_t>(letter * kLength + l)] = 1;
    }
    rows.push_back(row);
  }
  return rows;
}

// The chain's entropy per sequence (nats).
double entropy() {
  double h = 0, p[4];
  for (int k = 0; k < 4; ++k) {
    h -= kStart[k] * std::log(kStart[k]);
    p[k] = kStart[k];
  }
  for (int l = 1; l < kLength; ++l) {
    double next[4] = {0, 0, 0, 0};
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        h -= p[i] * kTransition[i][j] * std::log(kTransition[i][j]);
        next[j] += p[i] * kTransition[i][j];
      }
    std::copy(next, next + 4, p);
  }
  return h;
}

std::string model_path() { return std::string(LATENT_SOURCE_DIR) + "/examples/sequence_ar/model.lat"; }

// The exact log-likelihood per sequence printed by `latent eval`.
double log_likelihood(const TempDir& dir, const std::string& data, const std::string& fit) {
  RunResult r = run_latent({"eval", model_path(), "--data", data, "--fit", fit, "--threads", "2"}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  std::string key = "log_likelihood_per_datum ";
  size_t at = r.out.find(key);
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, r);
  return std::stod(r.out.substr(at + key.size()));
}

// Mean and standard error of the per-sequence log-likelihood, from the means of `chunks` equal parts.
std::pair<double, double> mean_and_error(const TempDir& dir, const std::vector<std::vector<int>>& rows,
                                         const std::string& fit, const std::string& name, int chunks = 10) {
  std::vector<double> means;
  const size_t size = rows.size() / static_cast<size_t>(chunks);
  for (int c = 0; c < chunks; ++c) {
    std::vector<std::vector<int>> part(rows.begin() + static_cast<long>(c * size), rows.begin() + static_cast<long>((c + 1) * size));
    means.push_back(log_likelihood(dir, dir.write(name + std::to_string(c) + ".json", as_json(part)), fit));
  }
  double mean = std::accumulate(means.begin(), means.end(), 0.0) / chunks, ss = 0;
  for (double m : means) ss += (m - mean) * (m - mean);
  return {mean, std::sqrt(ss / (chunks - 1) / chunks)};
}

// The generated rows of a `latent sample --csv` file.
std::vector<std::vector<int>> read_samples(const std::string& path) {
  std::istringstream csv(read_text(path));
  std::string line;
  std::getline(csv, line);  // header
  std::vector<std::vector<int>> rows;
  while (std::getline(csv, line)) {
    std::vector<int> row;
    std::istringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) row.push_back(static_cast<int>(std::lround(std::stod(cell))));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

BOOST_AUTO_TEST_CASE(samples_come_from_the_fitted_model) {
  TempDir dir;
  std::string train = dir.write("train.json", as_json(markov_sequences(20000, 1)));
  std::vector<std::vector<int>> held_out = markov_sequences(10000, 2);
  std::string fit = dir.file("seq.fit");
  RunResult r = run_latent({"fit", model_path(), "--data", train, "--method", "svi", "--batch", "500", "--epochs", "40",
                            "--lr", "0.01", "--threads", "2", "--seed", "1", "--output", fit, "-q"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  // Well fitted: the training log-likelihood per sequence is the chain's entropy.
  double train_ll = log_likelihood(dir, train, fit);
  BOOST_TEST(std::fabs(train_ll + entropy()) < 0.05, "training log-likelihood " << train_ll << ", entropy " << entropy());

  r = run_latent({"sample", model_path(), "--fit", fit, "--n", "10000", "--seed", "5", "--csv", dir.file("s.csv"), "-q"},
                 dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  std::vector<std::vector<int>> samples = read_samples(dir.file("s.csv"));
  BOOST_REQUIRE_EQUAL(samples.size(), 10000u);
  for (const auto& row : samples) {  // one letter per position
    BOOST_REQUIRE_EQUAL(row.size(), static_cast<size_t>(kLetters * kLength));
    for (int l = 0; l < kLength; ++l) {
      int ones = 0;
      for (int k = 0; k < kLetters; ++k) ones += row[static_cast<size_t>(k * kLength + l)];
      BOOST_REQUIRE_EQUAL(ones, 1);
    }
  }
  auto [sample_ll, sample_error] = mean_and_error(dir, samples, fit, "samples");
  auto [held_out_ll, held_out_error] = mean_and_error(dir, held_out, fit, "held_out");
  double error = std::sqrt(sample_error * sample_error + held_out_error * held_out_error);
  BOOST_TEST(std::fabs(sample_ll - held_out_ll) < 4 * error,
             "samples " << sample_ll << " +- " << sample_error << ", held-out " << held_out_ll << " +- "
                        << held_out_error);

  // Different seeds give different samples; FASTA holds the letters.
  r = run_latent({"sample", model_path(), "--fit", fit, "--n", "20", "--seed", "6", "--fasta", dir.file("a.fa"),
                  "--alphabet", kAlphabet, "-q"},
                 dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  r = run_latent({"sample", model_path(), "--fit", fit, "--n", "20", "--seed", "7", "--fasta", dir.file("b.fa"),
                  "--alphabet", kAlphabet, "-q"},
                 dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  std::string a = read_text(dir.file("a.fa")), b = read_text(dir.file("b.fa"));
  BOOST_TEST(a != b);
  std::vector<std::string> sequences = fasta_sequences(a);
  BOOST_TEST(sequences.size() == 20u);
  for (const std::string& s : sequences) {
    BOOST_TEST(s.size() == static_cast<size_t>(kLength));
    BOOST_TEST(s.find_first_not_of(kAlphabet) == std::string::npos, s);
  }
  // --fasta without the alphabet is an error naming the option.
  r = run_latent({"sample", model_path(), "--fit", fit, "--n", "2", "--fasta", dir.file("c.fa")}, dir);
  BOOST_TEST(r.exit_code == 1, r);
  BOOST_TEST(contains(r.err, "--alphabet"), r);
}
