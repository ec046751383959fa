// The on-disk cache of compiled code: object files keyed by a hash of exactly
// what is compiled (the unoptimised LLVM IR, which encodes the model, its data
// shapes and constants), the compiler version and the host CPU. A second
// compile of the same model and shapes loads the object instead of running the
// optimiser and code generator.
//
// Location: $LATENT_CACHE_DIR, else $XDG_CACHE_HOME/latent, else ~/.cache/latent.
// LATENT_CACHE=off (or LATENT_CACHE_DIR set to "") turns it off. Each entry is
// the object followed by a trailer (magic, size, checksum); an entry that does
// not verify is ignored and rebuilt, never trusted.
#pragma once

#include <optional>
#include <string>

namespace latent::codegen {

class ObjectCache {
 public:
  ObjectCache();  // reads the environment
  bool enabled() const { return !dir_.empty(); }
  const std::string& directory() const { return dir_; }

  // The cache key of a module's text (hex digest).
  static std::string key(const std::string& module_text, const std::string& target_description);

  // The object stored under key, if present and intact.
  std::optional<std::string> load(const std::string& key) const;
  // Stores an object (atomically: temporary file, then rename). Failures are
  // ignored: the cache is an optimisation.
  void store(const std::string& key, const std::string& object) const;
  // Deletes an entry (e.g. one the JIT could not load).
  void remove(const std::string& key) const;

 private:
  std::string path_of(const std::string& key) const;
  std::string dir_;
};

}  // namespace latent::codegen
