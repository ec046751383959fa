// Reading IDX files through zlib, which reads plain files as they are and
// gzipped files decompressed, so one code path serves both.
#include "data/idx_file.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <type_traits>

#include "common/source.hpp"

namespace latent {

namespace {

constexpr uint8_t kUnsignedByte = 0x08;

[[noreturn]] void fail(const std::string& path, const std::string& problem) {
  throw UserError(path + ": " + problem + "\n");
}

std::string hex32(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08X", v);
  return text;
}

// The element types the IDX format defines (for naming the unsupported ones).
const char* element_type_name(uint8_t code) {
  switch (code) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "16-bit integer";
    case 0x0C: return "32-bit integer";
    case 0x0D: return "32-bit float";
    case 0x0E: return "64-bit float";
    default: return nullptr;
  }
}

struct GzCloser {
  void operator()(gzFile f) const { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

class IdxReader {
 public:
  explicit IdxReader(const std::string& path) : path_(path) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) fail(path, "cannot open: no such file");
    if (std::filesystem::is_directory(path, ec)) fail(path, "cannot open: it is a directory");
    errno = 0;
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) fail(path, std::string("cannot open: ") + (errno ? std::strerror(errno) : "out of memory"));
    gzbuffer(file_.get(), 1 << 17);
  }

  // Reads up to `size` bytes; returns how many were there before the end.
  size_t read(uint8_t* out, size_t size) {
    size_t done = 0;
    while (done < size) {
      // gzread takes an unsigned count: read in pieces.
      unsigned piece = static_cast<unsigned>(std::min<size_t>(size - done, 1u << 20));
      int n = gzread(file_.get(), out + done, piece);
      if (n < 0) fail(path_, "cannot read: " + error_text());
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    // A gzip stream cut short reads as an early end, reported by the caller
    // as truncation; other stream errors (bad CRC, corrupt data) are named.
    int code = Z_OK;
    gzerror(file_.get(), &code);
    if (code != Z_OK && code != Z_BUF_ERROR) fail(path_, "cannot read: " + error_text());
    return done;
  }

 private:
  std::string error_text() {
    int code = Z_OK;
    const char* text = gzerror(file_.get(), &code);
    if (code == Z_ERRNO) return std::strerror(errno);
    std::string message = text && *text ? text : "unknown error";
    // zlib prefixes the path, which our message already starts with.
    if (message.rfind(path_ + ": ", 0) == 0) message.erase(0, path_.size() + 2);
    return code == Z_DATA_ERROR ? "corrupt compressed data (" + message + ")" : message;
  }

  std::string path_;
  GzHandle file_;
};

}  // namespace

IdxBytes read_idx_bytes(const std::string& path, int rank) {
  IdxReader in(path);
  const std::string expected_magic = hex32(static_cast<uint32_t>(kUnsignedByte) << 8 | static_cast<uint32_t>(rank));

  uint8_t header[4];
  size_t got = in.read(header, 4);
  if (got == 0) fail(path, "empty file (expected an IDX file, magic number " + expected_magic + ")");
  if (got < 4) fail(path, "truncated: the file ends inside the magic number");
  uint32_t magic = uint32_t{header[0]} << 24 | uint32_t{header[1]} << 16 | uint32_t{header[2]} << 8 | header[3];
  const char* type_name = element_type_name(header[2]);
  if (header[0] != 0 || header[1] != 0 || !type_name || header[3] == 0)
    fail(path, "not an IDX file: bad magic number " + hex32(magic) + " (expected " + expected_magic + ")");
  if (header[2] != kUnsignedByte)
    fail(path, std::string("unsupported element type: ") + type_name + " (magic number " + hex32(magic) +
                   "); only unsigned bytes (" + expected_magic + ") are read");
  if (header[3] != rank)
    fail(path, "has " + std::to_string(header[3]) + " dimensions (magic number " + hex32(magic) + "), expected " +
                   std::to_string(rank) + " (" + expected_magic + ")");

  IdxBytes idx;
  std::vector<uint8_t> dim_bytes(static_cast<size_t>(4 * rank));
  if (in.read(dim_bytes.data(), dim_bytes.size()) < dim_bytes.size())
    fail(path, "truncated: the file ends inside the dimensions");
  // Each dimension is below 2^32, so three of them could overflow: cap the
  // total far beyond any real data set.
  constexpr int64_t kMaxBytes = int64_t{1} << 40;
  int64_t total = 1;
  for (int k = 0; k < rank; ++k) {
    const uint8_t* b = &dim_bytes[static_cast<size_t>(4 * k)];
    int64_t d = int64_t{b[0]} << 24 | int64_t{b[1]} << 16 | int64_t{b[2]} << 8 | b[3];
    idx.dims.push_back(d);
    total = d == 0 || total == 0 ? 0 : (total > kMaxBytes / d ? kMaxBytes + 1 : total * d);
  }
  if (total > kMaxBytes) fail(path, "dimensions too large for an IDX file of bytes");

  // Grown as the data arrives, so a damaged header declaring a huge size
  // cannot allocate more memory than the file holds.
  constexpr size_t kChunk = size_t{1} << 20;
  size_t have = 0;
  while (have < static_cast<size_t>(total)) {
    size_t want = std::min(kChunk, static_cast<size_t>(total) - have);
    idx.bytes.resize(have + want);
    size_t n = in.read(idx.bytes.data() + have, want);
    have += n;
    if (n < want) {
      fail(path, "truncated: the dimensions give " + std::to_string(total) + " bytes of data, the file has " +
                     std::to_string(have));
    }
  }
  uint8_t extra;
  if (in.read(&extra, 1) != 0)
    fail(path, "has data after the " + std::to_string(total) + " bytes its dimensions give");
  return idx;
}

}  // namespace latent
