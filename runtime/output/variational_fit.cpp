#include "runtime/output/variational_fit.hpp"

#include "common/read_file.hpp"
#include "common/source.hpp"
#include "data/json_data.hpp"

#include <nlohmann/json.hpp>

namespace latent {

namespace {

std::vector<double> numbers(const nlohmann::json& j, const char* name, const std::string& path) {
  auto it = j.find(name);
  if (it == j.end()) throw UserError(path + ": malformed variational fit: '" + name + "' is missing");
  if (!it->is_array()) throw UserError(path + ": malformed variational fit: '" + name + "' must be an array of numbers");
  std::vector<double> out;
  out.reserve(it->size());
  for (const nlohmann::json& v : *it) {
    if (!v.is_number())
      throw UserError(path + ": malformed variational fit: '" + name + "' must be an array of numbers");
    out.push_back(v.get<double>());
  }
  return out;
}

}  // namespace

std::vector<double> parse_variational_fit(const std::string& text, const std::string& path, int64_t n,
                                          Family* family) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": not a JSON fit file: " + json_error_text(e));
  }
  auto method = j.is_object() ? j.find("method") : j.end();
  if (!j.is_object() || method == j.end() || !method->is_string() || (*method != "advi" && *method != "dadvi"))
    throw UserError(path + ": not a variational fit (write one with latent fit --method advi|fullrank|dadvi -o fit.json)");
  auto f = j.find("family");  // absent: mean-field (fits written before the family was recorded)
  if (f != j.end() && (!f->is_string() || (*f != "meanfield" && *f != "fullrank")))
    throw UserError(path + ": malformed variational fit: 'family' must be \"meanfield\" or \"fullrank\"");
  *family = f != j.end() && *f == "fullrank" ? Family::FullRank : Family::MeanField;
  std::vector<double> phi = numbers(j, "mu", path);
  const int64_t fit_n = static_cast<int64_t>(phi.size());
  if (fit_n != n)
    throw UserError(path + ": the fit has " + std::to_string(fit_n) + " unconstrained parameters, the model " +
                    std::to_string(n));
  std::vector<double> rest = numbers(j, *family == Family::FullRank ? "L" : "omega", path);
  phi.insert(phi.end(), rest.begin(), rest.end());
  if (static_cast<int64_t>(phi.size()) != num_variational_parameters(*family, n))
    throw UserError(path + ": malformed variational fit: '" + (*family == Family::FullRank ? "L" : "omega") +
                    "' has " + std::to_string(rest.size()) + " values, expected " +
                    std::to_string(num_variational_parameters(*family, n) - n));
  return phi;
}

std::vector<double> read_variational_fit(const std::string& path, int64_t n, Family* family) {
  return parse_variational_fit(read_file_limited(path, "fit file", kMaxDataFileBytes), path, n, family);
}

}  // namespace latent
