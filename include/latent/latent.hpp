// latent: a compiler for Stan-language probabilistic models, JIT-compiled with
// LLVM, as a C++ library.
//
//   #include <latent/latent.hpp>
//
//   auto model = latent::compile_file("model.lat");          // or compile_string(text, "name.lat")
//   auto post  = model.bind(latent::Data::from_json_file("data.json"));
//   std::vector<double> theta = post.initial_point(/*seed*/ 1);
//   double lp = post.log_prob(theta);                           // unconstrained space, with the Jacobian
//   std::vector<double> grad;
//   double lp2 = post.log_prob_grad(theta, grad);
//   latent::Estimate mode = post.optimize();                   // MAP: mode["sigma"], mode.lp
//   latent::VIFit fit = post.fit_vi({.method = latent::VIMethod::meanfield, .iterations = 10000, .seed = 1});
//   latent::Draws draws = fit.draws(1000);                     // constrained, CmdStan column names
//
// In CMake, after `cmake --install`:
//
//   find_package(latent REQUIRED)
//   target_link_libraries(app PRIVATE latent::latent)
//
// Headers: latent/error.hpp (latent::Error), latent/data.hpp (latent::Data),
// latent/model.hpp (Model, Posterior, fits; layouts and thread safety are
// described there). The headers need C++17 and expose no LLVM, ANTLR or Eigen
// types.
#pragma once

#include "latent/data.hpp"
#include "latent/error.hpp"
#include "latent/model.hpp"

namespace latent {

// The library's version, "0.1.0" (the CMake project version it was built as).
const char* version();

}  // namespace latent
