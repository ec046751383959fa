// Hand-written analytic value-and-gradient of the logistic regression log
// density (the model in examples/logistic/model.lat, with Stan's `~` constants
// dropped), the reference that latent's generated gradient is compared with.
//
// Three vectorisable passes: eta = alpha + X beta (Eigen GEMV), a fused loop
// for the log likelihood and d/d eta, and X' (d/d eta) (Eigen GEMV).
// Usage: logistic_reference DATA.json POINT.json  -> prints JSON with the value,
// gradient and the median seconds per call (at least 1 s of calls).
#include <Eigen/Dense>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: logistic_reference DATA.json UNCONSTRAINED.json\n";
    return 1;
  }
  nlohmann::json data = nlohmann::json::parse(std::ifstream(argv[1]));
  nlohmann::json point = nlohmann::json::parse(std::ifstream(argv[2]));
  const int n = data["N"], d = data["D"];
  Eigen::MatrixXd X(n, d);
  Eigen::VectorXd y(n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) X(i, j) = data["X"][i][j];
    y[i] = data["y"][i];
  }
  std::vector<double> theta = point.get<std::vector<double>>();  // alpha, beta[1..d]
  Eigen::VectorXd eta(n), g_eta(n), grad(d + 1);

  auto value_and_grad = [&](const std::vector<double>& th) {
    double alpha = th[0];
    Eigen::Map<const Eigen::VectorXd> beta(th.data() + 1, d);
    eta.noalias() = X * beta;
    double lp = -0.5 * alpha * alpha / 25.0 - 0.5 * beta.squaredNorm();
    double g_alpha = -alpha / 25.0;
    for (int i = 0; i < n; ++i) {
      double s = 2 * y[i] - 1;
      double x = s * (eta[i] + alpha);
      // log inv_logit(x) and its derivative inv_logit(-x)
      double e = std::exp(-std::fabs(x));
      lp -= std::fmax(-x, 0.0) + std::log1p(e);
      double p_neg = x >= 0 ? e / (1 + e) : 1 / (1 + e);
      g_eta[i] = s * p_neg;
      g_alpha += g_eta[i];
    }
    grad[0] = g_alpha;
    grad.tail(d).noalias() = X.transpose() * g_eta;
    grad.tail(d) -= beta;
    return lp;
  };

  double lp = value_and_grad(theta);
  for (int i = 0; i < 20; ++i) value_and_grad(theta);
  std::vector<double> times;
  auto start = std::chrono::steady_clock::now();
  while (times.size() < 20 || std::chrono::steady_clock::now() - start < std::chrono::seconds(1)) {
    auto t0 = std::chrono::steady_clock::now();
    value_and_grad(theta);
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  nlohmann::json out;
  out["log_density"] = lp;
  out["gradient"] = std::vector<double>(grad.data(), grad.data() + grad.size());
  out["seconds_per_gradient"] = times[times.size() / 2];
  std::cout << out.dump() << "\n";
  return 0;
}
