// The warning and exit status of a fit that did not converge. See not_converged.hpp.
#include "cli/not_converged.hpp"

#include <iostream>

namespace latent::cli {

int report_not_converged(const std::string& what, const std::string& meaning, const std::vector<std::string>& outputs) {
  std::string written = "to standard output";
  if (!outputs.empty()) {
    written = "to ";
    for (size_t i = 0; i < outputs.size(); ++i) written += (i ? " and " : "") + outputs[i];
  }
  std::cerr << "latent: warning: " << what << ": " << meaning << ". The output was written " << written
            << "; raise --iter to let it converge (exit status " << kExitNotConverged << ": not converged)\n";
  return kExitNotConverged;
}

}  // namespace latent::cli
