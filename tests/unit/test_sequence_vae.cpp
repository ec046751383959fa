// A VAE of sequences (examples/sequence_vae): letters categorical given a 2-D
// latent code through a decoder, an amortised encoder. The data come from a
// family with a known 2-D latent (letter l has logits base[l] + W[l] u), whose
// exact log-likelihood the test computes by quadrature over u. After training,
// the held-out bounds printed by `latent eval` are ordered (ELBO <= IWAE <= the
// truth, up to Monte Carlo error) and the IWAE bound is close to the truth. The
// per-datum split through to_matrix (one row per letter) is checked against the
// same model written without it. Samples are letters of the alphabet.
#define BOOST_TEST_MODULE sequence_vae
#include <boost/test/unit_test.hpp>

#include "tests/support/fasta_file.hpp"
#include "tests/support/model_fixture.hpp"

#include <cmath>
#include <sstream>

using namespace latent;
using namespace latent::testing;

namespace {

const int kLength = 12, kLetters = 6;
const std::string kAlphabet = "ACDEFG";

struct SequenceFamily {
  double base[kLength][kLetters];
  double weights[kLength][kLetters][2];
  // log p(letter k at position l | u)
  void log_probabilities(double u1, double u2, double out[kLength][kLetters]) const {
    for (int l = 0; l < kLength; ++l) {
      double top = -1e300, logits[kLetters];
      for (int k = 0; k < kLetters; ++k) {
        logits[k] = base[l][k] + weights[l][k][0] * u1 + weights[l][k][1] * u2;
        top = std::max(top, logits[k]);
      }
      double total = 0;
      for (double v : logits) total += std::exp(v - top);
      for (int k = 0; k < kLetters; ++k) out[l][k] = logits[k] - top - std::log(total);
    }
  }
};

SequenceFamily make_family() {
  std::mt19937_64 rng(2026);
  std::normal_distribution<double> normal(0, 1);
  SequenceFamily f{};
  for (int l = 0; l < kLength; ++l)
    for (int k = 0; k < kLetters; ++k) {
      f.base[l][k] = 1.5 * normal(rng);
      f.weights[l][k][0] = normal(rng);
      f.weights[l][k][1] = normal(rng);
    }
  return f;
}

std::vector<std::vector<int>> sequences(const SequenceFamily& f, int n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 1);
  std::vector<std::vector<int>> out;
  double logp[kLength][kLetters];
  for (int i = 0; i < n; ++i) {
    double u1 = normal(rng), u2 = normal(rng);
    f.log_probabilities(u1, u2, logp);
    std::vector<int> letters;
    for (int l = 0; l < kLength; ++l) {
      double r = uniform(rng), total = 0;
      int k = 0;
      while (k < kLetters - 1 && r >= (total += std::exp(logp[l][k]))) ++k;
      letters.push_back(k);
    }
    out.push_back(letters);
  }
  return out;
}

// The exact mean log-likelihood per sequence: log of the integral over u ~ N(0, I),
// on a grid of 121 x 121 points over [-6, 6]^2.
double true_log_likelihood(const SequenceFamily& f, const std::vector<std::vector<int>>& seqs) {
  const int points = 121;
  const double h = 12.0 / (points - 1);
  std::vector<std::vector<double>> log_p(seqs.size());
  double logp[kLength][kLetters];
  for (int a = 0; a < points; ++a)
    for (int b = 0; b < points; ++b) {
      double u1 = -6 + a * h, u2 = -6 + b * h;
      f.log_probabilities(u1, u2, logp);
      double log_weight = -0.5 * (u1 * u1 + u2 * u2) - std::log(2 * M_PI) + 2 * std::log(h);
      for (size_t n = 0; n < seqs.size(); ++n) {
        double s = log_weight;
        for (int l = 0; l < kLength; ++l) s += logp[l][seqs[n][static_cast<size_t>(l)]];
        log_p[n].push_back(s);
      }
    }
  double total = 0;
  for (const auto& v : log_p) {
    double top = *std::max_element(v.begin(), v.end()), sum = 0;
    for (double x : v) sum += std::exp(x - top);
    total += top + std::log(sum);
  }
  return total / static_cast<double>(seqs.size());
}

// One-hot, category-major (column (k - 1) * L + l), and the letter-of-column matrix.
std::string as_json(const std::vector<std::vector<int>>& seqs) {
  std::ostringstream s;
  s << "{\"N\": " << seqs.size() << ", \"L\": " << kLength << ", \"K\": " << kLetters << ", \"x\": [";
  for (size_t n = 0; n < seqs.size(); ++n) {
    s << (n ? "," : "") << "[";
    for (int c = 0; c < kLetters * kLength; ++c) s << (c ? "," : "") << (seqs[n][static_cast<size_t>(c % kLength)] == c / kLength);
    s << "]";
  }
  s << "], \"letter_of\": [";
  for (int c = 0; c < kLetters * kLength; ++c) {
    s << (c ? "," : "") << "[";
    for (int l = 0; l < kLength; ++l) s << (l ? "," : "") << (c % kLength == l);
    s << "]";
  }
  s << "]}";
  return s.str();
}

std::string model_path() { return std::string(LATENT_SOURCE_DIR) + "/examples/sequence_vae/model.lat"; }

double field(const RunResult& r, const std::string& key) {
  size_t at = r.out.find(key + " ");
  BOOST_REQUIRE_MESSAGE(at != std::string::npos, r);
  std::istringstream in(r.out.substr(at + key.size()));
  double v;
  in >> v;
  return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(held_out_bounds_approach_the_exact_log_likelihood) {
  TempDir dir;
  SequenceFamily family = make_family();
  std::string train = dir.write("train.json", as_json(sequences(family, 10000, 1)));
  std::vector<std::vector<int>> held_out = sequences(family, 2000, 2);
  std::string test = dir.write("test.json", as_json(held_out));
  std::string fit = dir.file("vae.fit");
  RunResult r = run_latent({"fit", model_path(), "--data", train, "--method", "svi", "--batch", "100", "--epochs", "30",
                            "--lr", "3e-3", "--threads", "2", "--seed", "1", "--output", fit, "-q"},
                           dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  r = run_latent({"eval", model_path(), "--data", test, "--fit", fit, "--iwae", "100", "--seed", "3"}, dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  double elbo = -field(r, "neg_elbo_per_datum");
  std::istringstream iwae_line(r.out.substr(r.out.find("iwae_log_likelihood_per_datum ")));
  std::string key;
  int k = 0;
  double iwae = 0;
  iwae_line >> key >> k >> iwae;
  BOOST_TEST(k == 100);
  double truth = true_log_likelihood(family, held_out);
  BOOST_TEST_MESSAGE("held-out ELBO " << elbo << ", IWAE(100) " << iwae << ", exact " << truth);
  BOOST_TEST(elbo < iwae);
  BOOST_TEST(iwae < truth + 0.1, "IWAE " << iwae << " above the exact log-likelihood " << truth);
  BOOST_TEST(iwae > truth - 0.5, "IWAE " << iwae << " far below the exact log-likelihood " << truth);

  // The same model with the per-letter normaliser as a product (no to_matrix):
  // the same draws give the same per-datum weights, hence the same bound.
  std::string text = read_text(model_path());
  const std::string likelihood = "to_matrix(x, N * L, K) ~ categorical_logit(to_matrix(logits, N * L, K));";
  BOOST_REQUIRE(text.find(likelihood) != std::string::npos);
  text.replace(text.find(likelihood), likelihood.size(),
               "target += sum(x .* logits) - sum(log(exp(logits) * letter_of));");
  text.replace(text.find("matrix<lower=0, upper=1>[N, K * L] x;"), 38,
               "matrix<lower=0, upper=1>[N, K * L] x; matrix[K * L, L] letter_of;");
  std::string product_form = dir.write("product_form.lat", text);
  RunResult same = run_latent({"eval", product_form, "--data", test, "--fit", fit, "--iwae", "100", "--seed", "3"}, dir);
  BOOST_REQUIRE_MESSAGE(same.exit_code == 0, same);
  BOOST_TEST(std::fabs(field(same, "neg_elbo_per_datum") + elbo) < 1e-6 * std::fabs(elbo), same);
  std::istringstream same_line(same.out.substr(same.out.find("iwae_log_likelihood_per_datum ")));
  double same_iwae = 0;
  same_line >> key >> k >> same_iwae;
  BOOST_TEST(std::fabs(same_iwae - iwae) < 1e-6 * std::fabs(iwae), same_iwae << " vs " << iwae);

  r = run_latent({"sample", model_path(), "--fit", fit, "--n", "20", "--fasta", dir.file("s.fa"), "--alphabet",
                  kAlphabet, "-q"},
                 dir);
  BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r);
  std::vector<std::string> sequences = fasta_sequences(read_text(dir.file("s.fa")));
  BOOST_TEST(sequences.size() == 20u);
  for (const std::string& s : sequences) {
    BOOST_TEST(s.size() == static_cast<size_t>(kLength));
    BOOST_TEST(s.find_first_not_of(kAlphabet) == std::string::npos, s);
  }
}
