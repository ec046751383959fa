#include "runtime/inference/summary.hpp"

#include "common/source.hpp"
#include "runtime/inference/diagnostics.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace latent {

std::vector<ChainTable> chain_tables(const NutsRun& run, int max_depth) {
  std::vector<ChainTable> tables;
  for (const ChainResult& c : run.chains) {
    ChainTable t;
    t.source = "chain " + std::to_string(c.chain + 1);
    t.columns = run.columns;
    t.values = c.draws;
    t.rows = c.rows;
    t.max_depth = max_depth;
    t.warmup_seconds = c.warmup_seconds;
    t.sampling_seconds = c.sampling_seconds;
    tables.push_back(std::move(t));
  }
  return tables;
}

double ebfmi(const std::vector<double>& energy) {
  if (energy.size() < 2) return std::nan("");
  double mean = 0;
  for (double e : energy) mean += e;
  mean /= static_cast<double>(energy.size());
  double differences = 0, deviations = 0;
  for (size_t i = 0; i < energy.size(); ++i) {
    deviations += (energy[i] - mean) * (energy[i] - mean);
    if (i > 0) differences += (energy[i] - energy[i - 1]) * (energy[i] - energy[i - 1]);
  }
  return differences / deviations;
}

namespace {

bool is_sampler_column(const std::string& name) { return name.size() > 2 && name.compare(name.size() - 2, 2, "__") == 0; }

std::vector<double> column_of(const ChainTable& t, size_t c) {
  std::vector<double> v(static_cast<size_t>(t.rows));
  const size_t width = t.columns.size();
  for (size_t r = 0; r < v.size(); ++r) v[r] = t.values[r * width + c];
  return v;
}

std::string percent(int64_t part, int64_t whole) {
  std::ostringstream s;
  s.precision(2);
  s << std::fixed << 100.0 * static_cast<double>(part) / static_cast<double>(whole) << "%";
  return s.str();
}

// "a, b, c and 4 more"
std::string name_list(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 8);
  std::string s;
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > shown) s += " and " + std::to_string(names.size() - shown) + " more";
  return s;
}

}  // namespace

PosteriorSummary summarize(const std::vector<ChainTable>& chains) {
  if (chains.empty()) throw UserError("summary: no chains");
  const ChainTable& first = chains.front();
  for (const ChainTable& t : chains) {
    if (t.columns != first.columns)
      throw UserError("summary: " + t.source + " does not have the columns of " + first.source +
                      " (chains of different models?)");
    if (t.rows == 0) throw UserError("summary: " + t.source + " has no draws");
    if (t.rows != first.rows)
      throw UserError("summary: the chains have different numbers of draws (" + first.source + ": " +
                      std::to_string(first.rows) + ", " + t.source + ": " + std::to_string(t.rows) + ")");
  }
  PosteriorSummary s;
  s.chains = static_cast<int>(chains.size());
  s.draws_per_chain = first.rows;
  s.max_depth = first.max_depth;
  const int64_t transitions = s.draws_per_chain * s.chains;

  auto find = [&](const std::string& name) -> std::ptrdiff_t {
    auto it = std::find(first.columns.begin(), first.columns.end(), name);
    return it == first.columns.end() ? -1 : it - first.columns.begin();
  };
  const std::ptrdiff_t divergent = find("divergent__"), depth = find("treedepth__"), energy = find("energy__");
  for (const ChainTable& t : chains) {
    if (divergent >= 0)
      for (double d : column_of(t, static_cast<size_t>(divergent))) s.divergences += d != 0;
    if (depth >= 0 && t.max_depth > 0)
      for (double d : column_of(t, static_cast<size_t>(depth))) s.max_depth_hits += d >= t.max_depth;
    s.ebfmi.push_back(energy >= 0 ? ebfmi(column_of(t, static_cast<size_t>(energy))) : std::nan(""));
    s.warmup_seconds = std::max(s.warmup_seconds, t.warmup_seconds);
    s.sampling_seconds = std::max(s.sampling_seconds, t.sampling_seconds);
    if (std::isnan(t.warmup_seconds)) s.warmup_seconds = std::nan("");
    if (std::isnan(t.sampling_seconds)) s.sampling_seconds = std::nan("");
  }

  std::vector<std::string> high_rhat, low_bulk, low_tail;
  const double ess_threshold = kEssPerChainThreshold * s.chains;
  for (size_t c = 0; c < first.columns.size(); ++c) {
    const std::string& name = first.columns[c];
    if (is_sampler_column(name) && name != "lp__") continue;
    Chains draws;
    for (const ChainTable& t : chains) draws.push_back(column_of(t, c));
    const ColumnDiagnostics d = column_diagnostics(draws);
    SummaryRow cs{name, d.mean, d.mcse_mean, d.sd, d.q5, d.q50, d.q95, d.rhat, d.ess_bulk, d.ess_tail};
    if (cs.rhat > kRhatThreshold) high_rhat.push_back(name);
    if (cs.ess_bulk < ess_threshold) low_bulk.push_back(name);
    if (cs.ess_tail < ess_threshold) low_tail.push_back(name);
    s.columns.push_back(cs);
  }

  auto warn = [&](const std::string& w) { s.warnings.push_back(w); };
  if (s.divergences > 0)
    warn(std::to_string(s.divergences) + " of " + std::to_string(transitions) + " transitions (" +
         percent(s.divergences, transitions) +
         ") ended with a divergence: the draws may be biased; increase --adapt-delta or reparameterise the model");
  if (s.max_depth_hits > 0)
    warn(std::to_string(s.max_depth_hits) + " of " + std::to_string(transitions) + " transitions (" +
         percent(s.max_depth_hits, transitions) + ") hit the maximum tree depth of " + std::to_string(s.max_depth) +
         ": sampling is inefficient; increase --max-depth or reparameterise the model");
  for (size_t k = 0; k < chains.size(); ++k)
    if (s.ebfmi[k] < kEbfmiThreshold) {
      std::ostringstream w;
      w.precision(3);
      w << chains[k].source << ": E-BFMI = " << s.ebfmi[k] << " (below " << kEbfmiThreshold
        << "): the sampler may not explore the tails of the posterior; reparameterise the model";
      warn(w.str());
    }
  std::ostringstream threshold;
  threshold << kEssPerChainThreshold << " per chain (" << ess_threshold << " in all)";
  if (!high_rhat.empty())
    warn("R-hat above 1.01 for " + name_list(high_rhat) + ": the chains have not mixed; run longer chains or "
         "reparameterise the model");
  if (!low_bulk.empty())
    warn("bulk ESS below " + threshold.str() + " for " + name_list(low_bulk) +
         ": the posterior means and sds are unreliable; run more draws");
  if (!low_tail.empty())
    warn("tail ESS below " + threshold.str() + " for " + name_list(low_tail) +
         ": the 5% and 95% quantiles are unreliable; run more draws");
  return s;
}

}  // namespace latent
