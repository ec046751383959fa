#include "common/read_file.hpp"

#include "common/source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace latent {

std::string byte_size_text(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30) && bytes % (uint64_t{1} << 30) == 0) return std::to_string(bytes >> 30) + " GiB";
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) return std::to_string(bytes >> 20) + " MiB";
  if (bytes >= (uint64_t{1} << 10) && bytes % (uint64_t{1} << 10) == 0) return std::to_string(bytes >> 10) + " KiB";
  return std::to_string(bytes) + " bytes";
}

std::string read_file_limited(const std::string& path, const std::string& kind, uint64_t max_bytes,
                              const std::function<void(const std::string&)>& check_head) {
  auto fail = [&](const std::string& reason) {
    return UserError("cannot read " + kind + " '" + cap_text(path, 200) + "': " + reason);
  };
  if (path.empty()) throw fail("empty file name");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw fail(errno == ENOENT ? "no such file" : std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw fail("it is a directory");
  auto too_large = [&] {
    return fail("the file is larger than " + byte_size_text(max_bytes) + ", the limit for a " + kind);
  };
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) throw too_large();

  std::string text;
  // 64 spare bytes: the JSON parser (simdjson) reads past the end in SIMD words.
  if (S_ISREG(st.st_mode)) text.reserve(static_cast<size_t>(st.st_size) + 64);
  constexpr size_t kHead = 64 * 1024;
  bool head_checked = !check_head;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail(std::strerror(errno));
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > max_bytes) throw too_large();
    text.append(chunk, static_cast<size_t>(n));
    if (!head_checked && text.size() >= kHead) {
      head_checked = true;
      check_head(text);
    }
  }
  if (!head_checked) check_head(text);
  return text;
}

}  // namespace latent
