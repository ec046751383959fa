#include "cli/summary_output.hpp"

#include "cli/common.hpp"
#include "runtime/output/csv.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace latent::cli {

namespace {

// Four significant digits, as summaries are read (not for reading back).
std::string general(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "nan";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string seconds(double s) { return std::isnan(s) ? "?" : fixed(s, s < 10 ? 3 : 1) + " s"; }

}  // namespace

std::string summary_table(const PosteriorSummary& s) {
  const std::vector<std::string> head{"", "mean", "mcse", "sd", "5%", "50%", "95%", "R-hat", "ESS bulk", "ESS tail"};
  std::vector<std::vector<std::string>> rows{head};
  for (const SummaryRow& c : s.columns)
    rows.push_back({c.name, general(c.mean), general(c.mcse_mean), general(c.sd), general(c.q5), general(c.q50),
                    general(c.q95), fixed(c.rhat, 3), fixed(c.ess_bulk, 0), fixed(c.ess_tail, 0)});
  std::vector<size_t> width(head.size(), 0);
  for (auto& r : rows)
    for (size_t k = 0; k < r.size(); ++k) width[k] = std::max(width[k], r[k].size());
  std::ostringstream out;
  for (auto& r : rows) {
    for (size_t k = 0; k < r.size(); ++k) {
      if (k == 0)
        out << r[k] << std::string(width[k] - r[k].size(), ' ');
      else
        out << "  " << std::string(width[k] - r[k].size(), ' ') << r[k];
    }
    out << "\n";
  }
  out << "\n" << s.chains << (s.chains == 1 ? " chain" : " chains") << " of " << s.draws_per_chain << " draws; "
      << s.divergences << (s.divergences == 1 ? " divergence" : " divergences");
  if (s.max_depth > 0) out << "; " << s.max_depth_hits << " at the maximum tree depth (" << s.max_depth << ")";
  out << "; E-BFMI";
  for (double e : s.ebfmi) out << " " << fixed(e, 2);
  out << "\nslowest chain: warm-up " << seconds(s.warmup_seconds) << ", sampling " << seconds(s.sampling_seconds) << "\n";
  out << "mcse: Monte Carlo standard error of the mean; R-hat: rank-normalised split R-hat (max of bulk and tail);\n"
         "ESS: effective sample size (bulk: rank-normalised; tail: of the 5% and 95% quantiles)\n";
  return out.str();
}

std::string summary_csv(const PosteriorSummary& s) {
  std::ostringstream out;
  out << "variable,mean,mcse_mean,sd,q5,q50,q95,rhat,ess_bulk,ess_tail\n";
  for (const SummaryRow& c : s.columns) {
    out << c.name;
    for (double v : {c.mean, c.mcse_mean, c.sd, c.q5, c.q50, c.q95, c.rhat, c.ess_bulk, c.ess_tail})
      out << "," << format_double(v);
    out << "\n";
  }
  return out.str();
}

std::string summary_json(const PosteriorSummary& s) {
  // Non-finite numbers as the CLI writes them elsewhere ("NaN", "Infinity").
  auto number = [](double v) { return nlohmann::json::parse(json_number(v)); };
  nlohmann::json j;
  j["chains"] = s.chains;
  j["draws_per_chain"] = s.draws_per_chain;
  j["divergences"] = s.divergences;
  j["max_depth"] = s.max_depth;
  j["max_depth_hits"] = s.max_depth_hits;
  nlohmann::json e = nlohmann::json::array();
  for (double v : s.ebfmi) e.push_back(number(v));
  j["ebfmi"] = e;
  j["warmup_seconds"] = number(s.warmup_seconds);
  j["sampling_seconds"] = number(s.sampling_seconds);
  nlohmann::json vars = nlohmann::json::array();
  for (const SummaryRow& c : s.columns) {
    nlohmann::json v;
    v["variable"] = c.name;
    v["mean"] = number(c.mean);
    v["mcse_mean"] = number(c.mcse_mean);
    v["sd"] = number(c.sd);
    v["q5"] = number(c.q5);
    v["q50"] = number(c.q50);
    v["q95"] = number(c.q95);
    v["rhat"] = number(c.rhat);
    v["ess_bulk"] = number(c.ess_bulk);
    v["ess_tail"] = number(c.ess_tail);
    vars.push_back(v);
  }
  j["variables"] = vars;
  j["warnings"] = s.warnings;
  return j.dump(2) + "\n";
}

std::string summary_warnings(const PosteriorSummary& s) {
  std::string out;
  for (const std::string& w : s.warnings) out += "warning: " + w + "\n";
  return out;
}

}  // namespace latent::cli
