// Grayscale images as PNG: a grid of images in one file (digits, clothes,
// a VAE's reconstructions and samples), and reading a PNG back as gray bytes
// (for tests and for checking output).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

// Pixels of mid gray between the cells of a grid (and filling the cells of an
// unfinished last row), so that black image borders stay distinguishable.
constexpr int kPngGridSeparator = 2;
constexpr uint8_t kPngGridSeparatorGray = 128;

struct PngGridSize {
  int columns = 0;  // cells per row: min(requested columns, image count)
  int rows = 0;     // ceil(image count / columns)
  int width = 0;    // columns * image width + (columns - 1) * kPngGridSeparator
  int height = 0;   // rows * image height + (rows - 1) * kPngGridSeparator
};

// The layout write_png_grid uses for `count` images of height x width in
// `columns` columns (all positive).
PngGridSize png_grid_size(int count, int height, int width, int columns);

// Writes `images` (each height * width intensities, row-major, 0 = black,
// 1 = white; values outside [0, 1] are clamped, NaN is black) as one 8-bit
// grayscale PNG, image k in row k / columns, column k % columns. The file is
// written atomically (a temporary file renamed over `path`): a failure leaves
// no partial file. Throws UserError naming the path for no images, an image
// of the wrong size, non-positive dimensions or an unwritable path.
void write_png_grid(const std::string& path, const std::vector<std::vector<double>>& images, int height, int width,
                    int columns);

struct GrayImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // height * width, row-major
};

// Reads any PNG as 8-bit gray (colour is converted by libpng). Throws
// UserError naming the path for a missing or malformed file.
GrayImage read_png_gray(const std::string& path);

}  // namespace latent
