#include "runtime/output/stan_csv.hpp"

#include "common/source.hpp"
#include "runtime/output/csv.hpp"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
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

std::vector<std::string> split_commas(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back(trimmed(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
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
  ChainTable t;
  t.source = path;
  std::map<std::string, std::string> config;
  bool has_header = false;
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trimmed(line).empty()) continue;
    if (line[0] == '#') {
      std::string comment = trimmed(line.substr(1));
      if (comment.find("seconds (Warm-up)") != std::string::npos) t.warmup_seconds = seconds_in(comment);
      if (comment.find("seconds (Sampling)") != std::string::npos) t.sampling_seconds = seconds_in(comment);
      size_t eq = comment.find(" = ");
      if (!has_header && eq != std::string::npos) {
        std::string value = trimmed(comment.substr(eq + 3));
        if (value.size() >= 9 && value.compare(value.size() - 9, 9, "(Default)") == 0) value = trimmed(value.substr(0, value.size() - 9));
        config.emplace(trimmed(comment.substr(0, eq)), value);
      }
      continue;
    }
    if (!has_header) {
      t.columns = split_commas(line);
      if (t.columns.front() != "lp__")
        throw UserError(path + ":" + std::to_string(line_number) +
                        ": the header does not start with lp__: not a CmdStan sampler output file");
      has_header = true;
      continue;
    }
    std::vector<std::string> fields = split_commas(line);
    if (fields.size() != t.columns.size())
      throw UserError(path + ":" + std::to_string(line_number) + ": " + std::to_string(fields.size()) +
                      " values, the header has " + std::to_string(t.columns.size()) + " columns");
    for (const std::string& f : fields) {
      char* end = nullptr;
      double v = std::strtod(f.c_str(), &end);
      if (f.empty() || *end != '\0')
        throw UserError(path + ":" + std::to_string(line_number) + ": '" + f + "' is not a number");
      t.values.push_back(v);
    }
    ++t.rows;
  }
  if (!has_header) throw UserError(path + ": no header line: not a CmdStan CSV file");

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
