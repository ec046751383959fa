#include "runtime/output/stan_csv.hpp"

#include "common/source.hpp"
#include "data/draws_csv.hpp"
#include "runtime/output/csv.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#ifndef LATENT_VERSION_STRING
#define LATENT_VERSION_STRING "0.1.0"
#endif

namespace latent {

namespace {

std::string utc_now() {
  std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string seconds_text(double s) {
  std::ostringstream o;
  o.precision(3);
  o << std::fixed << s;
  return o.str();
}

std::string joined(const double* v, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + format_double(v[i]);
  return s;
}

}  // namespace

std::string stan_csv_text(const SamplerConfig& c, const std::vector<std::string>& columns, const ChainResult& chain) {
  CsvWriter w;
  const bool adapt = c.warmup > 0;
  std::ostringstream config;
  config << "latent = " << LATENT_VERSION_STRING << "\n"
         << "model = " << c.model << "\n"
         << "start_datetime = " << utc_now() << "\n"
         << "method = sample (Default)\n"
         << "  sample\n"
         << "    num_samples = " << c.samples << "\n"
         << "    num_warmup = " << c.warmup << "\n"
         << "    save_warmup = 0\n"
         << "    thin = " << c.thin << "\n"
         << "    adapt\n"
         << "      engaged = " << (adapt ? 1 : 0) << "\n"
         << "      gamma = 0.05\n"
         << "      delta = " << format_double(c.adapt_delta) << "\n"
         << "      kappa = 0.75\n"
         << "      t0 = 10\n"
         << "      init_buffer = 75\n"
         << "      term_buffer = 50\n"
         << "      window = 25\n"
         << "    algorithm = hmc (Default)\n"
         << "      hmc\n"
         << "        engine = nuts (Default)\n"
         << "          nuts\n"
         << "            max_depth = " << c.max_depth << "\n"
         << "        metric = " << metric_name(c.metric) << "\n"
         << "        metric_file = \n"
         << "        stepsize = " << format_double(c.step_size) << "\n"
         << "        stepsize_jitter = 0\n"
         << "    num_chains = " << c.num_chains << "\n"
         << "id = " << c.chain_id << "\n"
         << "data\n"
         << "  file = " << c.data << "\n"
         << "init = " << c.init << "\n"
         << "random\n"
         << "  seed = " << c.seed << "\n"
         << "output\n"
         << "  file = " << c.output << "\n"
         << "  diagnostic_file = \n"
         << "  refresh = 100";
  w.comment(config.str());
  w.header(columns);
  if (adapt) {
    w.comment("Adaptation terminated");
    w.comment("Step size = " + format_double(chain.step_size));
    const size_t size = chain.inverse_metric.size();
    if (c.metric == MetricKind::diagonal) {
      w.comment("Diagonal elements of inverse mass matrix:");
      w.comment(joined(chain.inverse_metric.data(), size));
    } else if (c.metric == MetricKind::dense) {
      w.comment("Elements of inverse mass matrix:");
      const size_t n = static_cast<size_t>(std::llround(std::sqrt(static_cast<double>(size))));
      for (size_t i = 0; i < n; ++i) w.comment(joined(chain.inverse_metric.data() + i * n, n));
    } else {
      w.comment("No free parameters for unit metric");
    }
  }
  const size_t width = columns.size();
  for (int64_t r = 0; r < chain.rows; ++r) w.row(chain.draws.data() + static_cast<size_t>(r) * width, width);
  w.comment("");
  w.comment(" Elapsed Time: " + seconds_text(chain.warmup_seconds) + " seconds (Warm-up)");
  w.comment("               " + seconds_text(chain.sampling_seconds) + " seconds (Sampling)");
  w.comment("               " + seconds_text(chain.warmup_seconds + chain.sampling_seconds) + " seconds (Total)");
  w.comment("");
  return w.text();
}

namespace {

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The number before " seconds" in an Elapsed Time line, or NaN.
double seconds_in(const std::string& comment) {
  size_t colon = comment.find(':');
  std::string rest = colon == std::string::npos ? comment : comment.substr(colon + 1);
  char* end = nullptr;
  double v = std::strtod(rest.c_str(), &end);
  return end == rest.c_str() ? std::nan("") : v;
}

}  // namespace

ChainTable read_stan_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError("cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  {
    // Sampler output starts with lp__: say so before reading another file's rows as numbers.
    std::istringstream lines(text.str());
    std::string line;
    int64_t number = 0;
    while (std::getline(lines, line)) {
      ++number;
      if (trimmed(line).empty() || line[0] == '#') continue;
      if (trimmed(line.substr(0, line.find(','))) != "lp__")
        throw UserError(path + ":" + std::to_string(number) +
                        ": the header does not start with lp__: not a CmdStan sampler output file");
      break;
    }
  }
  // The table (header and rows) as latent generate reads draws; the comments
  // before the header hold the configuration, those after it the times.
  DrawsTable draws = parse_draws_csv(text.str(), path);
  ChainTable t;
  t.source = path;
  for (const std::string& c : draws.columns) t.columns.push_back(trimmed(c));
  t.rows = static_cast<int64_t>(draws.rows.size());
  t.values.reserve(draws.rows.size() * t.columns.size());
  for (const std::vector<double>& row : draws.rows) t.values.insert(t.values.end(), row.begin(), row.end());

  std::map<std::string, std::string> config;
  std::istringstream lines(text.str());
  std::string line;
  bool before_header = true;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] != '#') {
      if (!trimmed(line).empty()) before_header = false;
      continue;
    }
    std::string comment = trimmed(line.substr(1));
    if (comment.find("seconds (Warm-up)") != std::string::npos) t.warmup_seconds = seconds_in(comment);
    if (comment.find("seconds (Sampling)") != std::string::npos) t.sampling_seconds = seconds_in(comment);
    size_t eq = comment.find(" = ");
    if (before_header && eq != std::string::npos) {
      std::string value = trimmed(comment.substr(eq + 3));
      if (value.size() >= 9 && value.compare(value.size() - 9, 9, "(Default)") == 0)
        value = trimmed(value.substr(0, value.size() - 9));
      config.emplace(trimmed(comment.substr(0, eq)), value);
    }
  }

  auto number = [&](const std::string& key, int64_t fallback) {
    auto it = config.find(key);
    if (it == config.end()) return fallback;
    char* end = nullptr;
    long long v = std::strtoll(it->second.c_str(), &end, 10);
    return end == it->second.c_str() ? fallback : static_cast<int64_t>(v);
  };
  t.max_depth = static_cast<int>(number("max_depth", 0));
  auto save_warmup = config.find("save_warmup");
  if (save_warmup != config.end() && (save_warmup->second == "1" || save_warmup->second == "true")) {
    const int64_t thin = std::max<int64_t>(1, number("thin", 1));
    const int64_t warmup_rows = std::min(t.rows, (number("num_warmup", 0) + thin - 1) / thin);
    const size_t width = t.columns.size();
    t.values.erase(t.values.begin(), t.values.begin() + static_cast<std::ptrdiff_t>(warmup_rows * static_cast<int64_t>(width)));
    t.rows -= warmup_rows;
  }
  return t;
}

}  // namespace latent
