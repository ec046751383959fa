// Two posteriors known exactly, shared by the tests of the Gaussian approximations
// (test_laplace, test_dadvi): a normal mean with a normal prior, and a linear
// regression with known noise and correlated columns.
#pragma once

#include "tests/support/variational_fixture.hpp"

#include <sstream>
#include <string>
#include <vector>

namespace latent::testing {

// Posterior precision 1/4 + 5/1.5^2; mean (1/4 * 1 + sum(y) / 1.5^2) / precision.
inline const char* kNormalMean = R"(
data { int N; vector[N] y; }
parameters { real mu; }
model { mu ~ normal(1, 2); y ~ normal(mu, 1.5); }
)";
inline const char* kNormalMeanData = R"({"N": 5, "y": [0.3, 1.9, 2.4, -0.2, 1.1]})";
inline const double kPrecision = 0.25 + 5 / 2.25, kMean = (0.25 + 5.5 / 2.25) / kPrecision;

// Linear regression with known noise and correlated columns: posterior precision
// I / 4 + X'X / 0.25, mean its inverse times X'y / 0.25.
inline const char* kRegression = R"(
data { int N; matrix[N, 2] X; vector[N] y; }
parameters { vector[2] beta; }
model { beta ~ normal(0, 2); y ~ normal(X * beta, 0.5); }
)";
inline const std::vector<std::vector<double>> kX = {{1, 0.5}, {1, -1.2}, {1, 2.0}, {1, 0.1}, {1, 1.4}, {1, -0.3}};
inline const std::vector<double> kY = {1.2, -0.8, 2.9, 0.4, 2.1, 0.2};

inline std::string regression_json() {
  std::ostringstream s;
  s << "{\"N\": 6, \"X\": [";
  for (size_t i = 0; i < kX.size(); ++i) s << (i ? ", " : "") << "[" << kX[i][0] << ", " << kX[i][1] << "]";
  s << "], \"y\": " << json_vector(kY) << "}";
  return s.str();
}

inline void regression_posterior(std::vector<double>& mean, Mat& covariance) {
  Mat P(2, 2);
  std::vector<double> b(2, 0.0);
  for (int i = 0; i < 2; ++i) P(i, i) = 0.25;
  for (size_t n = 0; n < kX.size(); ++n)
    for (int i = 0; i < 2; ++i) {
      b[i] += kX[n][i] * kY[n] / 0.25;
      for (int j = 0; j < 2; ++j) P(i, j) += kX[n][i] * kX[n][j] / 0.25;
    }
  covariance = spd_inverse(P);
  mean = matvec(covariance, b);
}

}  // namespace latent::testing
