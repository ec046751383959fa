// Reading a whole input file with a size limit, so that no input (a huge file,
// /dev/zero, a FIFO) can make latent read until memory runs out, and every
// failure is one user error naming the file and what it is ("cannot read data
// file 'x.json': it is a directory").
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace latent {

// The limits (README.md, "Limits"): model files are small; data files, init and
// fit files are JSON text that may hold large data sets.
constexpr uint64_t kMaxModelFileBytes = uint64_t{16} << 20;  // 16 MiB
constexpr uint64_t kMaxDataFileBytes = uint64_t{1} << 30;    // 1 GiB

// Reads `path` (`kind` names it in messages: "model file", "data file", "init file",
// "fit file"). Throws UserError when the file is missing, a directory, unreadable or
// longer than max_bytes. `check_head`, when given, sees the first 64 KiB as soon as
// they are read and may throw (binary junk is then rejected without reading on).
std::string read_file_limited(const std::string& path, const std::string& kind, uint64_t max_bytes,
                              const std::function<void(const std::string&)>& check_head = {});

// "16 MiB", "1 GiB", "512 bytes".
std::string byte_size_text(uint64_t bytes);

}  // namespace latent
