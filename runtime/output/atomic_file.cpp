// Writing output files atomically: temporary file + fsync + rename.
#include "runtime/output/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/source.hpp"

namespace latent {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& reason) {
  throw UserError("cannot write '" + path + "': " + reason);
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

void write_file_atomically(const std::string& path, const std::string& content) {
  namespace fs = std::filesystem;
  if (path.empty()) fail(path, "empty file name");
  const fs::path target(path);
  if (!target.has_filename()) fail(path, "not a file name");
  std::error_code ec;
  if (fs::is_directory(target, ec)) fail(path, "it is a directory");

  // An existing device, FIFO or socket (/dev/stdout, /dev/full, a pipe) is written
  // in place: a temporary file renamed over it would replace the device itself.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    int out = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (out < 0) fail(path, errno_text(errno));
    const char* p = content.data();
    size_t rest = content.size();
    while (rest > 0) {
      ssize_t n = ::write(out, p, rest);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(out);
        fail(path, errno_text(err));
      }
      p += n;
      rest -= static_cast<size_t>(n);
    }
    if (::close(out) != 0) fail(path, errno_text(errno));
    return;
  }

  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::exists(dir, ec)) fail(path, "directory '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) fail(path, "'" + dir.string() + "' is not a directory");

  // A unique name in the same directory (rename is only atomic within one
  // file system). O_EXCL makes a clash fail instead of clobbering.
  static std::atomic<unsigned> counter{0};
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = (dir / ("." + target.filename().string() + ".tmp." + std::to_string(::getpid()) +
                   "." + std::to_string(counter++)))
               .string();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) fail(path, errno_text(errno));
  }
  if (fd < 0) fail(path, "cannot create a temporary file in '" + dir.string() + "'");

  auto abandon = [&](const std::string& reason) {
    if (fd >= 0) ::close(fd);
    ::unlink(temp.c_str());
    fail(path, reason);
  };

  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      abandon(errno_text(errno));
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS) abandon(errno_text(errno));
  if (::close(fd) != 0) {
    fd = -1;
    abandon(errno_text(errno));
  }
  fd = -1;
  if (::rename(temp.c_str(), path.c_str()) != 0) abandon(errno_text(errno));
}

}  // namespace latent
