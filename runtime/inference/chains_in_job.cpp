#include "runtime/inference/chains_in_job.hpp"

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace latent {

namespace {

// Fixed-size values as their bytes; vectors and strings with their length first.
class Writer {
 public:
  template <class T>
  void value(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void doubles(const std::vector<double>& v) {
    value<uint64_t>(v.size());
    bytes_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(double));
  }
  void text(const std::string& s) {
    value<uint64_t>(s.size());
    bytes_ += s;
  }
  std::string& bytes() { return bytes_; }

 private:
  std::string bytes_;
};

class Reader {
 public:
  explicit Reader(const std::string& bytes) : bytes_(bytes) {}
  template <class T>
  T value() {
    T v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  std::vector<double> doubles() {
    uint64_t n = value<uint64_t>();
    if (n > (bytes_.size() - at_) / sizeof(double)) fail();
    std::vector<double> v(static_cast<size_t>(n));
    if (n) std::memcpy(v.data(), take(v.size() * sizeof(double)), v.size() * sizeof(double));
    return v;
  }
  std::string text() {
    uint64_t n = value<uint64_t>();
    if (n > bytes_.size() - at_) fail();
    return std::string(take(static_cast<size_t>(n)), static_cast<size_t>(n));
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  const char* take(size_t n) {
    if (n > bytes_.size() - at_) fail();
    const char* p = bytes_.data() + at_;
    at_ += n;
    return p;
  }
  [[noreturn]] static void fail() { throw std::runtime_error("a chain's result from another rank is cut short"); }
  const std::string& bytes_;
  size_t at_ = 0;
};

void write_chain(Writer& w, const ChainResult& c) {
  w.value<int32_t>(c.chain);
  w.value<int64_t>(c.rows);
  w.doubles(c.draws);
  w.doubles(c.initial_point);
  w.value(c.step_size);
  w.doubles(c.inverse_metric);
  w.value(c.warmup_seconds);
  w.value(c.sampling_seconds);
  w.value<int64_t>(c.warmup_divergences);
  w.value<int64_t>(c.divergences);
  w.value<int64_t>(c.max_depth_hits);
  w.value<int64_t>(c.gradient_evaluations);
  w.value<int64_t>(c.generated_failures);
  w.text(c.first_generated_failure);
}

ChainResult read_chain(Reader& r) {
  ChainResult c;
  c.chain = r.value<int32_t>();
  c.rows = r.value<int64_t>();
  c.draws = r.doubles();
  c.initial_point = r.doubles();
  c.step_size = r.value<double>();
  c.inverse_metric = r.doubles();
  c.warmup_seconds = r.value<double>();
  c.sampling_seconds = r.value<double>();
  c.warmup_divergences = r.value<int64_t>();
  c.divergences = r.value<int64_t>();
  c.max_depth_hits = r.value<int64_t>();
  c.gradient_evaluations = r.value<int64_t>();
  c.generated_failures = r.value<int64_t>();
  c.first_generated_failure = r.text();
  return c;
}

}  // namespace

std::vector<int> chains_of_rank(int chains, const distributed::Job& job) {
  std::vector<int> mine;
  for (int c = job.rank(); c < chains; c += job.size()) mine.push_back(c);
  return mine;
}

std::string serialize_chain(const ChainResult& chain) {
  Writer w;
  write_chain(w, chain);
  return std::move(w.bytes());
}

ChainResult deserialize_chain(const std::string& bytes) {
  Reader r(bytes);
  ChainResult c = read_chain(r);
  if (!r.done()) throw std::runtime_error("a chain's result from another rank has bytes left over");
  return c;
}

std::vector<ChainResult> gather_chains(std::vector<ChainResult> mine, int chains, distributed::Job& job) {
  if (!job.distributed()) return mine;
  Writer w;
  w.value<uint64_t>(mine.size());
  for (const ChainResult& c : mine) write_chain(w, c);
  mine.clear();  // the draws are in the bytes now: do not hold them twice
  std::vector<std::string> parts = job.gather(w.bytes());
  if (!job.root()) return {};

  std::vector<ChainResult> all(static_cast<size_t>(chains));
  std::vector<bool> seen(static_cast<size_t>(chains), false);
  for (std::string& part : parts) {
    Reader r(part);
    for (uint64_t k = r.value<uint64_t>(); k > 0; --k) {
      ChainResult c = read_chain(r);
      if (c.chain < 0 || c.chain >= chains || seen[static_cast<size_t>(c.chain)])
        throw std::runtime_error("gather_chains: chain " + std::to_string(c.chain + 1) + " came twice or is unknown");
      seen[static_cast<size_t>(c.chain)] = true;
      all[static_cast<size_t>(c.chain)] = std::move(c);
    }
    if (!r.done()) throw std::runtime_error("gather_chains: a rank's results have bytes left over");
    std::string().swap(part);
  }
  for (int c = 0; c < chains; ++c)
    if (!seen[static_cast<size_t>(c)]) throw std::runtime_error("gather_chains: no rank ran chain " + std::to_string(c + 1));
  return all;
}

}  // namespace latent
