#include "data/image_source.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>

#include "common/source.hpp"
#include "data/idx_file.hpp"

namespace latent {

namespace {

using ByteTable = std::array<double, 256>;

// A value for every byte, so converting a row is a table look-up.
ByteTable byte_table(double (*value)(int byte)) {
  ByteTable t{};
  for (int b = 0; b < 256; ++b) t[static_cast<size_t>(b)] = value(b);
  return t;
}

// `x`: the intensity byte / 255; `x_binary`: the fixed binarisation, 1 where the
// intensity exceeds 0.5 (byte >= 128).
const ByteTable& pixel_values(bool binary) {
  static const ByteTable intensities = byte_table([](int b) { return b / 255.0; });
  static const ByteTable binarised = byte_table([](int b) { return b / 255.0 > 0.5 ? 1.0 : 0.0; });
  return binary ? binarised : intensities;
}

int as_int(int64_t v, const std::string& path, const char* what) {
  if (v > INT_MAX) throw UserError(path + ": " + what + " " + std::to_string(v) + " is too large\n");
  return static_cast<int>(v);
}

}  // namespace

ImageDataSource::ImageDataSource(std::string source_name, const std::string& images_path,
                                 const std::string& labels_path)
    : source_(std::move(source_name)) {
  IdxBytes images = read_idx_bytes(images_path, 3);
  n_ = as_int(images.dims[0], images_path, "image count");
  h_ = as_int(images.dims[1], images_path, "image height");
  w_ = as_int(images.dims[2], images_path, "image width");
  if (h_ == 0 || w_ == 0)
    throw UserError(images_path + ": the images have " + std::to_string(h_) + " x " + std::to_string(w_) +
                    " pixels; their height and width must be positive\n");
  as_int(int64_t{h_} * w_, images_path, "pixel count per image");
  pixels_ = std::move(images.bytes);
  if (labels_path.empty()) return;

  IdxBytes labels = read_idx_bytes(labels_path, 1);
  if (labels.dims[0] != n_)
    throw UserError(labels_path + ": " + std::to_string(labels.dims[0]) + " labels for the " + std::to_string(n_) +
                    " images of " + images_path + "\n");
  labels_ = std::move(labels.bytes);
  has_labels_ = true;
}

std::vector<std::string> ImageDataSource::names() const {
  std::vector<std::string> out{"D", "H", "N", "W"};  // sorted, as the interface promises
  if (has_labels_) out.push_back("label");
  out.push_back("x");
  out.push_back("x_binary");
  return out;
}

bool ImageDataSource::has(const std::string& name) const {
  std::vector<std::string> all = names();
  return std::find(all.begin(), all.end(), name) != all.end();
}

ImageDataSource::Field ImageDataSource::field(const std::string& name) const {
  if (name == "N") return Field::N;
  if (name == "H") return Field::H;
  if (name == "W") return Field::W;
  if (name == "D") return Field::D;
  if (name == "x") return Field::X;
  if (name == "x_binary") return Field::XBinary;
  if (name == "label" && has_labels_) return Field::Label;
  throw UserError(source_ + ": field '" + name + "' is missing (an image set has N, H, W, D, x, x_binary" +
                  (has_labels_ ? ", label" : "") + ")\n");
}

std::vector<int64_t> ImageDataSource::dims(const std::string& name) const {
  switch (field(name)) {
    case Field::X:
    case Field::XBinary: return {n_, int64_t{h_} * w_};
    case Field::Label: return {n_};
    default: return {};
  }
}

bool ImageDataSource::is_int(const std::string& name) const { return field(name) != Field::X; }

void ImageDataSource::read_rows(const std::string& name, const int64_t* rows, int64_t count, double* out) const {
  const Field f = field(name);
  const size_t d = static_cast<size_t>(h_) * static_cast<size_t>(w_);
  switch (f) {
    case Field::N: out[0] = n_; return;
    case Field::H: out[0] = h_; return;
    case Field::W: out[0] = w_; return;
    case Field::D: out[0] = static_cast<double>(d); return;
    case Field::X:
    case Field::XBinary:
    case Field::Label: break;
  }
  const ByteTable& to_value = pixel_values(f == Field::XBinary);
  for (int64_t i = 0; i < count; ++i) {
    int64_t row = rows[i];
    if (row < 0 || row >= n_)
      throw std::out_of_range(source_ + ": row " + std::to_string(row) + " of '" + name + "' is out of range");
    if (f == Field::Label) {
      out[i] = labels_[static_cast<size_t>(row)] + 1.0;
      continue;
    }
    const uint8_t* image = pixels_.data() + static_cast<size_t>(row) * d;
    double* dest = out + static_cast<size_t>(i) * d;
    for (size_t k = 0; k < d; ++k) dest[k] = to_value[image[k]];
  }
}

}  // namespace latent
