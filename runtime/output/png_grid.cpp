// PNG through libpng's simplified API (png_image): it keeps libpng's
// setjmp/longjmp error handling inside libpng, away from C++ objects, and
// reports failures as a message.
#include "runtime/output/png_grid.hpp"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/source.hpp"
#include "runtime/output/atomic_file.hpp"

namespace latent {

namespace {

[[noreturn]] void fail_write(const std::string& path, const std::string& problem) {
  throw UserError("cannot write PNG '" + path + "': " + problem + "\n");
}

uint8_t to_gray(double v) {
  if (std::isnan(v)) return 0;
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
}

// A grid larger than this (2^28 pixels: 256 MB) is a mistake, not a picture.
constexpr int64_t kMaxGridPixels = int64_t{1} << 28;

}  // namespace

PngGridSize png_grid_size(int count, int height, int width, int columns) {
  PngGridSize g;
  g.columns = std::min(columns, count);
  g.rows = (count + g.columns - 1) / g.columns;
  g.width = g.columns * width + (g.columns - 1) * kPngGridSeparator;
  g.height = g.rows * height + (g.rows - 1) * kPngGridSeparator;
  return g;
}

void write_png_grid(const std::string& path, const std::vector<std::vector<double>>& images, int height, int width,
                    int columns) {
  if (images.empty()) fail_write(path, "no images");
  if (height < 1 || width < 1)
    fail_write(path, "image size " + std::to_string(height) + "x" + std::to_string(width) + " is not positive");
  if (columns < 1) fail_write(path, std::to_string(columns) + " columns (need at least 1)");
  const size_t pixels = static_cast<size_t>(height) * static_cast<size_t>(width);
  for (size_t k = 0; k < images.size(); ++k) {
    if (images[k].size() != pixels)
      fail_write(path, "image " + std::to_string(k) + " has " + std::to_string(images[k].size()) +
                           " values, expected " + std::to_string(height) + "x" + std::to_string(width) + " = " +
                           std::to_string(pixels));
  }
  // Checked in 64 bits before png_grid_size computes in int.
  const int64_t n = static_cast<int64_t>(images.size());
  const int64_t cols = std::min<int64_t>(columns, n), rows = (n + cols - 1) / cols;
  const int64_t grid_w = cols * width + (cols - 1) * kPngGridSeparator;
  const int64_t grid_h = rows * height + (rows - 1) * kPngGridSeparator;
  if (grid_w * grid_h > kMaxGridPixels || grid_w > kMaxGridPixels || grid_h > kMaxGridPixels)
    fail_write(path, "the grid would be " + std::to_string(grid_w) + "x" + std::to_string(grid_h) + " pixels");
  const PngGridSize g = png_grid_size(static_cast<int>(n), height, width, columns);

  std::vector<uint8_t> canvas(static_cast<size_t>(g.width) * static_cast<size_t>(g.height), kPngGridSeparatorGray);
  for (size_t k = 0; k < images.size(); ++k) {
    const size_t top = (k / static_cast<size_t>(g.columns)) * static_cast<size_t>(height + kPngGridSeparator);
    const size_t left = (k % static_cast<size_t>(g.columns)) * static_cast<size_t>(width + kPngGridSeparator);
    for (int r = 0; r < height; ++r) {
      uint8_t* dest = &canvas[(top + static_cast<size_t>(r)) * static_cast<size_t>(g.width) + left];
      const double* src = &images[k][static_cast<size_t>(r) * static_cast<size_t>(width)];
      for (int c = 0; c < width; ++c) dest[c] = to_gray(src[c]);
    }
  }

  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(g.width);
  image.height = static_cast<png_uint_32>(g.height);
  image.format = PNG_FORMAT_GRAY;
  // An upper bound of the encoded size, so one pass encodes.
  png_alloc_size_t size = PNG_IMAGE_PNG_SIZE_MAX(image);
  std::string encoded(static_cast<size_t>(size), '\0');
  if (!png_image_write_to_memory(&image, encoded.data(), &size, 0, canvas.data(), 0, nullptr)) {
    std::string message = image.message;
    png_image_free(&image);
    fail_write(path, "libpng: " + message);
  }
  encoded.resize(static_cast<size_t>(size));
  write_file_atomically(path, encoded);
}

GrayImage read_png_gray(const std::string& path) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  auto fail = [&] {
    std::string message = image.message;
    png_image_free(&image);
    throw UserError("cannot read PNG '" + path + "': " + message + "\n");
  };
  if (!png_image_begin_read_from_file(&image, path.c_str())) fail();
  image.format = PNG_FORMAT_GRAY;
  GrayImage out;
  out.width = static_cast<int>(image.width);
  out.height = static_cast<int>(image.height);
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) fail();
  return out;
}

}  // namespace latent
