// latent::Posterior::sample and latent::Samples: NUTS (runtime/inference/chains.hpp)
// and the summary (runtime/inference/summary.hpp) behind the public API, with
// the same defaults and results as `latent fit --method nuts` (cli/fit_nuts.cpp).
#include "api/internal.hpp"
#include "runtime/inference/chains.hpp"
#include "runtime/inference/summary.hpp"

#include <algorithm>

namespace latent {

using api::guarded;

namespace {

MetricKind metric_kind(Metric m) {
  switch (m) {
    case Metric::unit_e: return MetricKind::unit;
    case Metric::dense_e: return MetricKind::dense;
    case Metric::diag_e: return MetricKind::diagonal;
  }
  throw Error("latent::SampleOptions: unknown metric");
}

size_t index_in(const std::vector<std::string>& names, const std::string& column) {
  auto it = std::find(names.begin(), names.end(), column);
  if (it == names.end()) throw Error("no column named '" + column + "'");
  return static_cast<size_t>(it - names.begin());
}

}  // namespace

Samples Posterior::sample(const SampleOptions& o) const {
  const Impl& p = checked();
  return guarded([&] {
    const BoundModel& m = *p.model;
    NutsOptions options;
    options.chains = o.chains;
    options.threads = o.threads;
    options.warmup = o.warmup;
    options.samples = o.samples;
    options.thin = o.thin;
    options.max_depth = o.max_depth;
    options.adapt_delta = o.adapt_delta;
    options.metric = metric_kind(o.metric);
    options.step_size = o.stepsize;
    options.seed = o.seed;
    options.init = o.init ? &o.init->impl_->set : nullptr;
    options.init_radius = o.init_radius;
    if (o.progress)
      options.progress = [&o](const ChainProgress& c) {
        o.progress(SampleProgress{c.chain, c.iteration, c.total, c.warmup, c.divergences});
      };
    validate(options);
    if (m.num_unconstrained() == 0) throw UserError(p.name + ": the model has no parameters to sample");
    NutsRun run = run_nuts(m, options);

    Samples s;
    s.names = p.output_names;
    s.sampler_names = sampler_columns();
    s.chains = o.chains;
    s.max_depth = o.max_depth;
    s.notes = run.notes;
    s.draws_per_chain = run.chains.empty() ? 0 : static_cast<size_t>(run.chains.front().rows);
    const size_t width = run.columns.size(), n_sampler = s.sampler_names.size();
    for (const ChainResult& c : run.chains) {
      for (int64_t r = 0; r < c.rows; ++r) {
        const double* row = c.draws.data() + static_cast<size_t>(r) * width;
        s.sampler.insert(s.sampler.end(), row, row + n_sampler);
        s.values.insert(s.values.end(), row + n_sampler, row + width);
      }
      s.step_size.push_back(c.step_size);
      s.inverse_metric.push_back(c.inverse_metric);
      s.warmup_seconds.push_back(c.warmup_seconds);
      s.sampling_seconds.push_back(c.sampling_seconds);
      s.generated_failures.push_back(c.generated_failures);
    }
    return s;
  });
}

size_t Samples::index(const std::string& column) const { return index_in(names, column); }

std::vector<double> Samples::column(const std::string& name) const {
  const size_t c = index(name), width = names.size();
  std::vector<double> out(values.size() / std::max<size_t>(width, 1));
  for (size_t r = 0; r < out.size(); ++r) out[r] = values[r * width + c];
  return out;
}

std::vector<double> Samples::sampler_column(const std::string& name) const {
  const size_t c = index_in(sampler_names, name), width = sampler_names.size();
  std::vector<double> out(sampler.size() / width);
  for (size_t r = 0; r < out.size(); ++r) out[r] = sampler[r * width + c];
  return out;
}

int64_t Samples::divergences() const {
  int64_t n = 0;
  for (double d : sampler_column("divergent__")) n += d != 0;
  return n;
}

SampleSummary Samples::summary() const {
  return guarded([&] {
    std::vector<ChainTable> tables;
    const size_t n_sampler = sampler_names.size(), width = n_sampler + names.size();
    for (int c = 0; c < chains; ++c) {
      ChainTable t;
      t.source = "chain " + std::to_string(c + 1);
      t.columns = sampler_names;
      t.columns.insert(t.columns.end(), names.begin(), names.end());
      t.rows = static_cast<int64_t>(draws_per_chain);
      t.max_depth = max_depth;
      t.values.reserve(draws_per_chain * width);
      for (size_t d = 0; d < draws_per_chain; ++d) {
        const size_t r = static_cast<size_t>(c) * draws_per_chain + d;
        t.values.insert(t.values.end(), sampler.begin() + static_cast<std::ptrdiff_t>(r * n_sampler),
                        sampler.begin() + static_cast<std::ptrdiff_t>((r + 1) * n_sampler));
        t.values.insert(t.values.end(), values.begin() + static_cast<std::ptrdiff_t>(r * names.size()),
                        values.begin() + static_cast<std::ptrdiff_t>((r + 1) * names.size()));
      }
      if (c < static_cast<int>(warmup_seconds.size())) t.warmup_seconds = warmup_seconds[static_cast<size_t>(c)];
      if (c < static_cast<int>(sampling_seconds.size())) t.sampling_seconds = sampling_seconds[static_cast<size_t>(c)];
      tables.push_back(std::move(t));
    }
    PosteriorSummary ps = summarize(tables);
    SampleSummary out;
    for (const SummaryRow& c : ps.columns)
      out.columns.push_back({c.name, c.mean, c.mcse_mean, c.sd, c.q5, c.q50, c.q95, c.rhat, c.ess_bulk, c.ess_tail});
    out.divergences = ps.divergences;
    out.max_depth_hits = ps.max_depth_hits;
    out.ebfmi = ps.ebfmi;
    out.warnings = ps.warnings;
    return out;
  });
}

const ColumnSummary& SampleSummary::operator[](const std::string& name) const {
  for (const ColumnSummary& c : columns)
    if (c.name == name) return c;
  throw Error("no column named '" + name + "'");
}

}  // namespace latent
