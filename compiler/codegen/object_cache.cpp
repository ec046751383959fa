#include "compiler/codegen/object_cache.hpp"

#include <llvm/Config/llvm-config.h>
#include <llvm/ADT/StringRef.h>
#include <llvm/Support/SHA256.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace latent::codegen {

namespace {

constexpr char kMagic[8] = {'L', 'A', 'T', 'O', 'B', 'J', '0', '1'};
constexpr const char* kCompilerVersion = "latent-0.1.0";

uint64_t fnv1a(const char* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= 1099511628211ull;
  }
  return h;
}

struct Trailer {
  char magic[8];
  uint64_t size;
  uint64_t checksum;
};

}  // namespace

ObjectCache::ObjectCache() {
  const char* off = std::getenv("LATENT_CACHE");
  if (off && (std::string(off) == "off" || std::string(off) == "0")) return;
  if (const char* dir = std::getenv("LATENT_CACHE_DIR")) {
    dir_ = dir;  // "" turns the cache off
    return;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    dir_ = std::string(xdg) + "/latent";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    dir_ = std::string(home) + "/.cache/latent";
  }
}

std::string ObjectCache::key(const std::string& module_text, const std::string& target_description) {
  llvm::SHA256 sha;
  for (const std::string& part : {std::string(kCompilerVersion), std::string(LLVM_VERSION_STRING), target_description,
                                  module_text}) {
    sha.update(llvm::StringRef(part));
    sha.update(llvm::StringRef("\0", 1));
  }
  auto digest = sha.final();
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : digest) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

std::string ObjectCache::path_of(const std::string& key) const { return dir_ + "/" + key + ".o"; }

std::optional<std::string> ObjectCache::load(const std::string& key) const {
  if (!enabled()) return std::nullopt;
  std::ifstream in(path_of(key), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string bytes = buffer.str();
  if (bytes.size() < sizeof(Trailer)) return std::nullopt;
  Trailer t;
  std::memcpy(&t, bytes.data() + bytes.size() - sizeof(Trailer), sizeof(Trailer));
  bytes.resize(bytes.size() - sizeof(Trailer));
  if (std::memcmp(t.magic, kMagic, sizeof kMagic) != 0 || t.size != bytes.size() ||
      t.checksum != fnv1a(bytes.data(), bytes.size()))
    return std::nullopt;  // truncated or corrupt: rebuilt by the caller
  return bytes;
}

void ObjectCache::store(const std::string& key, const std::string& object) const {
  if (!enabled()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return;
  std::string tmp = path_of(key) + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return;
    Trailer t;
    std::memcpy(t.magic, kMagic, sizeof kMagic);
    t.size = object.size();
    t.checksum = fnv1a(object.data(), object.size());
    out.write(object.data(), static_cast<std::streamsize>(object.size()));
    out.write(reinterpret_cast<const char*>(&t), sizeof t);
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, path_of(key), ec);
  if (ec) std::filesystem::remove(tmp, ec);
}

void ObjectCache::remove(const std::string& key) const {
  std::error_code ec;
  if (enabled()) std::filesystem::remove(path_of(key), ec);
}

}  // namespace latent::codegen
