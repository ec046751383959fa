// CmdStan's configuration comments for optimize and variational output. See
// cmdstan_config.hpp.
#include "runtime/output/cmdstan_config.hpp"

#include "runtime/output/csv.hpp"

#include <cstdio>
#include <sstream>

#ifndef LATENT_VERSION_STRING
#define LATENT_VERSION_STRING "0.1.0"
#endif

namespace latent {

namespace {

// CmdStan marks a value equal to its default.
std::string value(const std::string& text, bool is_default) { return is_default ? text + " (Default)" : text; }
// CmdStan prints reals with 17 significant digits, %g style (1e-12 is 9.9999999999999998e-13, 1e7 is 10000000).
std::string number(double v, double cmdstan_default) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return value(buf, v == cmdstan_default);
}
std::string integer(int64_t v, int64_t cmdstan_default) { return value(std::to_string(v), v == cmdstan_default); }

// Every line of `lines` as a comment.
std::string commented(const std::string& lines) {
  std::istringstream in(lines);
  std::string line, out;
  while (std::getline(in, line)) out += "# " + line + "\n";
  return out;
}

// The lines after the method's own: id, data, init, random, output.
std::string common_tail(const RunFiles& f) {
  std::ostringstream s;
  s << "id = 0 (Default)\n"
    << "data\n"
    << "  file = " << f.data << "\n"
    << "init = " << value(f.init, f.init == "2") << "\n"
    << "random\n"
    << "  seed = " << f.seed << "\n"
    << "output\n"
    << "  file = " << (f.output.empty() ? "" : f.output) << "\n"
    << "  diagnostic_file =  (Default)\n"
    << "  refresh = 100 (Default)\n";
  return s.str();
}

}  // namespace

std::string optimize_config_comment(const OptimizeConfig& c) {
  std::ostringstream s;
  s << "latent = " << LATENT_VERSION_STRING << "\n"
    << "model = " << c.files.model << "\n"
    << "method = optimize\n"
    << "  optimize\n"
    << "    algorithm = lbfgs (Default)\n"
    << "      lbfgs\n"
    << "        init_alpha = 0.001 (Default)\n"
    << "        tol_obj = 9.9999999999999998e-13 (Default)\n"
    << "        tol_rel_obj = " << number(c.tol_rel_obj, 1e4) << "\n"
    << "        tol_grad = 1e-08 (Default)\n"
    << "        tol_rel_grad = " << number(c.tol_rel_grad, 1e7) << "\n"
    << "        tol_param = 1e-08 (Default)\n"
    << "        history_size = 5 (Default)\n"
    // CmdStan 2.32 added jacobian; latent has it (--jacobian).
    << "    jacobian = " << integer(c.jacobian ? 1 : 0, 0) << "\n"
    << "    iter = " << integer(c.iterations, 2000) << "\n"
    << "    save_iterations = 0 (Default)\n"
    << common_tail(c.files);
  return commented(s.str());
}

std::string variational_config_comment(const VariationalConfig& c) {
  const char* family = c.full_rank ? "fullrank" : "meanfield";
  std::ostringstream s;
  s << "latent = " << LATENT_VERSION_STRING << "\n"
    << "model = " << c.files.model << "\n"
    << "method = variational\n"
    << "  variational\n"
    << "    algorithm = " << value(family, !c.full_rank) << "\n"
    << "      " << family << "\n"
    << "    iter = " << integer(c.iterations, 10000) << "\n"
    << "    grad_samples = " << integer(c.grad_samples, 1) << "\n"
    << "    elbo_samples = " << integer(c.elbo_samples, 100) << "\n"
    << "    eta = " << number(c.eta, 1) << "\n"
    << "    adapt\n"
    << "      engaged = " << integer(c.adapt ? 1 : 0, 1) << "\n"
    << "      iter = 50 (Default)\n"
    << "    tol_rel_obj = " << number(c.tol_rel_obj, 0.01) << "\n"
    << "    eval_elbo = " << integer(c.eval_elbo, 100) << "\n"
    << "    output_samples = " << integer(c.output_samples, 1000) << "\n"
    << common_tail(c.files);
  return commented(s.str());
}

std::string variational_adaptation_comment(double eta) {
  return "# Stepsize adaptation complete.\n# eta = " + format_double(eta) + "\n";
}

}  // namespace latent
