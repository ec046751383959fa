// IDX files: the format of MNIST and Fashion-MNIST.
//
// A file is a 4-byte magic number (two zero bytes, an element type code, the
// number of dimensions), each dimension as a big-endian 32-bit count, then the
// elements in row-major order. Only unsigned bytes (type code 0x08) are read:
// 0x00000803 is a set of images (count, rows, columns), 0x00000801 a set of
// labels. The file may be gzipped (the data sets are distributed as *.gz).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

// The elements stay bytes: 60000 images of 28x28 are 47 MB, not 376 MB.
struct IdxBytes {
  std::vector<int64_t> dims;  // outermost first
  std::vector<uint8_t> bytes; // row-major, the product of dims
};

// Reads an IDX file of unsigned bytes with `rank` dimensions, plain or gzipped.
// Throws UserError naming the path for a missing or unreadable file, a bad
// magic number, an element type other than unsigned bytes, another number of
// dimensions, and data shorter or longer than the dimensions say.
IdxBytes read_idx_bytes(const std::string& path, int rank);

}  // namespace latent
