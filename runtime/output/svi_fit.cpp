#include "runtime/output/svi_fit.hpp"

#include "common/read_file.hpp"
#include "common/source.hpp"
#include "data/json_data.hpp"
#include "runtime/output/atomic_file.hpp"

#include <nlohmann/json.hpp>

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

nlohmann::json parse(const std::string& text, const std::string& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw UserError(path + ": not a latent SVI fit (written by 'latent fit --method svi --output'): not JSON: " +
                    json_error_text(e) + "\n");
  }
  const auto format = j.is_object() ? j.find("format") : j.end();
  if (!j.is_object() || format == j.end() || !format->is_string() || *format != kFormat)
    throw UserError(path + ": not a latent SVI fit (written by 'latent fit --method svi --output')\n");
  return j;
}

// The member `name` of the fit, which must be there and of the given JSON type.
const nlohmann::json& member(const nlohmann::json& j, const char* name, nlohmann::json::value_t type,
                             const char* what, const std::string& path) {
  auto it = j.find(name);
  if (it == j.end()) throw UserError(path + ": not a valid fit file: '" + name + "' is missing\n");
  bool ok = it->type() == type || (type == nlohmann::json::value_t::number_integer && it->is_number_unsigned());
  if (!ok) throw UserError(path + ": not a valid fit file: '" + name + "' must be " + what + "\n");
  return *it;
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
  if (fit.has_state) {
    const SviState& st = fit.state;
    j["training"] = {{"seed", fit.seed}, {"batch", fit.batch}, {"optimizer", fit.optimizer}, {"lr", fit.lr}};
    j["state"] = {{"epoch", st.epoch},     {"step", st.step},
                  {"elbo_sum", st.elbo_sum}, {"seconds", st.seconds},
                  {"optimizer_steps", st.optimizer.steps}, {"m", st.optimizer.m}, {"v", st.optimizer.v}};
  }
  write_file_atomically(path, j.dump() + "\n");
}

// What identifies a fit, from its parsed JSON.
static SviFit header_of(const nlohmann::json& j, const std::string& path) {
  using T = nlohmann::json::value_t;
  SviFit f;
  f.model = member(j, "model", T::string, "a string (the model file)", path).get<std::string>();
  f.data = member(j, "data", T::string, "a string (the data it was fitted on)", path).get<std::string>();
  const nlohmann::json& rows = member(j, "max_rows", T::number_integer, "a non-negative integer", path);
  if (rows.is_number_unsigned() ? rows.get<uint64_t>() > uint64_t{1} << 62 : rows.get<int64_t>() < 0)
    throw UserError(path + ": not a valid fit file: 'max_rows' must be a non-negative integer\n");
  f.max_rows = rows.get<int64_t>();
  f.analytic_kl = member(j, "analytic_kl", T::boolean, "true or false", path).get<bool>();
  return f;
}

// The checkpoint's part of a fit: where it is and what it was trained with.
static void read_state(const nlohmann::json& j, const std::string& path, SviFit& f) {
  using T = nlohmann::json::value_t;
  auto bad = [&](const std::string& what) {
    return UserError(path + ": not a valid checkpoint: " + what + "\n");
  };
  const nlohmann::json& training = member(j, "training", T::object, "an object", path);
  const nlohmann::json& st = member(j, "state", T::object, "an object", path);
  try {
    f.seed = training.at("seed").get<uint64_t>();
    f.batch = training.at("batch").get<int64_t>();
    f.optimizer = training.at("optimizer").get<std::string>();
    f.lr = training.at("lr").get<double>();
    f.state.epoch = st.at("epoch").get<int>();
    f.state.step = st.at("step").get<int64_t>();
    f.state.elbo_sum = st.at("elbo_sum").get<double>();
    f.state.seconds = st.at("seconds").get<double>();
    f.state.optimizer.steps = st.at("optimizer_steps").get<long>();
    f.state.optimizer.m = st.at("m").get<std::vector<double>>();
    f.state.optimizer.v = st.at("v").get<std::vector<double>>();
  } catch (const nlohmann::json::exception& e) {
    throw bad(json_error_text(e));
  }
  if (f.state.epoch < 1 || f.state.step < 0 || f.state.optimizer.steps < 0 || f.batch < 1)
    throw bad("a negative or zero count in 'state' or 'training'");
  if (f.state.optimizer.m.size() != f.phi.size() || f.state.optimizer.v.size() != f.phi.size())
    throw bad("the optimiser's moments ('m', 'v') must have as many values as 'phi'");
  f.has_state = true;
}

static std::string read_fit_text(const std::string& path) {
  return read_file_limited(path, "fit file", kMaxDataFileBytes);
}

SviFit parse_svi_fit_header(const std::string& text, const std::string& path) { return header_of(parse(text, path), path); }

SviFit read_svi_fit_header(const std::string& path) { return parse_svi_fit_header(read_fit_text(path), path); }

SviFit read_svi_fit(const std::string& path, const SviModel::Compiled& layout) {
  return parse_svi_fit(read_fit_text(path), path, layout);
}

SviFit parse_svi_fit(const std::string& text, const std::string& path, const SviModel::Compiled& layout) {
  using T = nlohmann::json::value_t;
  nlohmann::json j = parse(text, path);
  SviFit f = header_of(j, path);
  if (member(j, "tensors", T::array, "an array (the layout of phi)", path) != layout_json(layout))
    throw UserError(path + ": this fit was made for a different model (its networks or parameters differ from "
                    "the model's)\n");
  const nlohmann::json& phi = member(j, "phi", T::array, "an array of numbers", path);
  f.phi.reserve(phi.size());
  for (const nlohmann::json& v : phi) {
    if (!v.is_number()) throw UserError(path + ": not a valid fit file: 'phi' must be an array of numbers\n");
    f.phi.push_back(v.get<double>());
  }
  if (static_cast<int64_t>(f.phi.size()) != layout.num_phi())
    throw UserError(path + ": has " + std::to_string(f.phi.size()) + " values, the model needs " +
                    std::to_string(layout.num_phi()) + "\n");
  if (j.contains("state")) read_state(j, path, f);
  return f;
}

}  // namespace latent
