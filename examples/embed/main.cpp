// A program that embeds latent: compiles a model, binds its data, evaluates the
// log density and its gradient at a point, and finds the posterior mode.
//
//   embed <example dir with model.lat and data.json> | <model.lat> [data.json]
#include <latent/latent.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " <example dir> | <model.lat> [data.json]\n";
    return 2;
  }
  std::filesystem::path model_path = argv[1], data_path;
  if (std::filesystem::is_directory(model_path)) {
    data_path = model_path / "data.json";
    model_path /= "model.lat";
  } else if (argc > 2) {
    data_path = argv[2];
  }

  try {
    std::printf("latent %s\n", latent::version());
    latent::Model model = latent::compile_file(model_path.string());
    latent::Data data = data_path.empty() ? latent::Data() : latent::Data::from_json_file(data_path.string());
    latent::Posterior post = model.bind(data);

    std::printf("model = %s\n", post.name().c_str());
    std::printf("unconstrained parameters = %lld\n", static_cast<long long>(post.param_unc_num()));
    std::printf("columns =");
    for (const std::string& name : post.output_names()) std::printf(" %s", name.c_str());
    std::printf("\n");

    // The log density (with the Jacobian) and its gradient at a random initial point.
    std::vector<double> theta = post.initial_point(/*seed*/ 1);
    std::vector<double> grad;
    double lp = post.log_prob_grad(theta, grad);
    std::printf("theta =");
    for (double x : theta) std::printf(" %.17g", x);
    std::printf("\nlog_prob = %.17g\ngradient =", lp);
    for (double g : grad) std::printf(" %.17g", g);
    std::printf("\n");

    // The same from two threads at once (a Posterior is safe to share).
    double from_threads[2] = {0, 0};
    std::thread a([&] { from_threads[0] = post.log_prob(theta); });
    std::thread b([&] { from_threads[1] = post.log_prob(theta); });
    a.join();
    b.join();
    std::printf("threads agree = %s\n", from_threads[0] == lp && from_threads[1] == lp ? "yes" : "no");

    // The posterior mode (MAP, L-BFGS), constrained values by name.
    latent::Estimate mode = post.optimize();
    std::printf("optimize: %s after %d iterations, lp = %.17g\n", mode.status.c_str(), mode.iterations, mode.lp);
    for (size_t k = 0; k < mode.names.size(); ++k)
      std::printf("estimate %s = %.17g\n", mode.names[k].c_str(), mode.values[k]);
  } catch (const latent::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
