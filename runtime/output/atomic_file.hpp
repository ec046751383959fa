// Writing output files atomically.
#pragma once

#include <string>

namespace latent {

// Writes `content` to a temporary file in the same directory as `path`
// (".<name>.tmp.<pid>.<n>"), flushes it to disk, then renames it over `path`,
// so readers see either the old file or the complete new one, never a partial
// file. On any failure the temporary file is removed and
// UserError("cannot write 'path': reason") is thrown.
// The new file gets the usual permissions (0666 minus the umask). If `path`
// is a symbolic link, the link itself is replaced.
void write_file_atomically(const std::string& path, const std::string& content);

}  // namespace latent
