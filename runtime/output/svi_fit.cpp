#include "runtime/output/svi_fit.hpp"

#include "common/source.hpp"
#include "runtime/output/atomic_file.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace latent {

namespace {

constexpr const char* kFormat = "latent-svi-fit";

// Names, offsets in phi and sizes: what must agree between a fit and a model.
nlohmann::json layout_json(const SviModel::Compiled& c) {
  nlohmann::json tensors = nlohmann::json::array();
  const SviLayout& L = c.objective.layout;
  for (const NetworkTensor& t : c.lowered.network)
    tensors.push_back({{"name", t.name},
                       {"network", t.buffer == 3 ? "model" : "guide"},
                       {"offset", (t.buffer == 3 ? 0 : L.guide_network_offset) + t.offset},
                       {"dims", t.dims}});
  for (const AutoGuided& a : L.automatic) {
    tensors.push_back({{"name", a.name + ".mu"}, {"network", "automatic guide"}, {"offset", L.auto_offset + a.phi_offset},
                       {"dims", {a.size}}});
    tensors.push_back({{"name", a.name + ".log_sigma"}, {"network", "automatic guide"},
                       {"offset", L.auto_offset + a.phi_offset + a.size}, {"dims", {a.size}}});
  }
  return tensors;
}

nlohmann::json parse(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw UserError("cannot read fit file '" + path + "'\n");
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (!j.is_object() || j.value("format", "") != kFormat)
      throw UserError(path + ": not a latent SVI fit (written by 'latent fit --method svi --output')\n");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": not a valid fit file (" + e.what() + ")\n");
  }
}

}  // namespace

void write_svi_fit(const std::string& path, const SviFit& fit, const SviModel::Compiled& layout) {
  nlohmann::ordered_json j;  // "format" first: readers recognise the file from its start
  j["format"] = kFormat;
  j["model"] = fit.model;
  j["data"] = fit.data;
  j["max_rows"] = fit.max_rows;
  j["analytic_kl"] = fit.analytic_kl;
  j["tensors"] = layout_json(layout);
  j["phi"] = fit.phi;
  write_file_atomically(path, j.dump() + "\n");
}

// What identifies a fit, from its parsed JSON.
static SviFit header_of(const nlohmann::json& j, const std::string& path) {
  SviFit f;
  try {
    f.model = j.at("model").get<std::string>();
    f.data = j.at("data").get<std::string>();
    f.max_rows = j.at("max_rows").get<int64_t>();
    f.analytic_kl = j.at("analytic_kl").get<bool>();
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": not a valid fit file (" + e.what() + ")\n");
  }
  return f;
}

SviFit read_svi_fit_header(const std::string& path) { return header_of(parse(path), path); }

SviFit read_svi_fit(const std::string& path, const SviModel::Compiled& layout) {
  nlohmann::json j = parse(path);
  SviFit f = header_of(j, path);
  if (j.at("tensors") != layout_json(layout))
    throw UserError(path + ": this fit was made for a different model (its networks or parameters differ from "
                    "the model's)\n");
  try {
    f.phi = j.at("phi").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": not a valid fit file (" + e.what() + ")\n");
  }
  if (static_cast<int64_t>(f.phi.size()) != layout.num_phi())
    throw UserError(path + ": has " + std::to_string(f.phi.size()) + " values, the model needs " +
                    std::to_string(layout.num_phi()) + "\n");
  return f;
}

}  // namespace latent
