// A set of grayscale images (and optionally their labels) from IDX files,
// as model data:
//
//   N      int            number of images
//   H, W   int            rows and columns of one image (28, 28 for MNIST)
//   D      int            H * W
//   x      real[N, D]     intensities byte / 255, in [0, 1], row-major pixels
//   x_binary int[N, D]    the images binarised at intensity 0.5 (1 above it),
//                         for models of binary pixels (MADE, exact likelihoods)
//   label  int[N]         the file's label + 1 (1..10: Stan's categories
//                         count from 1); only with a labels file
//
// The pixels stay bytes; read_rows converts only the rows asked for, so a
// minibatch of 100 images costs 100 * D doubles, not the whole set.
#pragma once

#include "data/data_source.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace latent {

class ImageDataSource : public DataSource {
 public:
  // `source_name` names the data in messages (a path or e.g.
  // "fashion-mnist:train"). `labels_path` may be empty: no `label` field.
  // Throws UserError for malformed files or a label count that differs from
  // the image count.
  ImageDataSource(std::string source_name, const std::string& images_path, const std::string& labels_path);

  const std::string& source() const override { return source_; }
  std::vector<std::string> names() const override;
  bool has(const std::string& name) const override;
  std::vector<int64_t> dims(const std::string& name) const override;
  bool is_int(const std::string& name) const override;
  void read_rows(const std::string& name, const int64_t* rows, int64_t count, double* out) const override;

  int count() const { return n_; }
  int height() const { return h_; }
  int width() const { return w_; }
  bool has_labels() const { return has_labels_; }

 private:
  enum class Field { N, H, W, D, X, XBinary, Label };
  Field field(const std::string& name) const;  // throws UserError for an unknown name

  std::string source_;
  int n_ = 0, h_ = 0, w_ = 0;
  std::vector<uint8_t> pixels_;  // n_ * h_ * w_ bytes
  std::vector<uint8_t> labels_;  // n_ bytes when has_labels_
  bool has_labels_ = false;
};

}  // namespace latent
