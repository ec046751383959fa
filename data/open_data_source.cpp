// Choosing the DataSource for a `--data` argument: a named data set, IDX image
// files or a CmdStan data file (JSON or R dump).
#include <cstdlib>
#include <filesystem>

#include "common/source.hpp"
#include "data/data_file.hpp"
#include "data/data_source.hpp"
#include "data/image_source.hpp"

namespace latent {

namespace {

const char* const kFashionMnistName = "fashion-mnist";
const char* const kFashionMnistDebianDir = "/usr/share/datasets/fashion-mnist";
// Overrides the directory (tests; a copy of the data elsewhere).
const char* const kFashionMnistDirVariable = "LATENT_FASHION_MNIST_DIR";

bool is_file(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::is_regular_file(p, ec);
}

// Debian's dataset-fashion-mnist: train-* (60000 images) and t10k-* (10000).
std::unique_ptr<DataSource> open_fashion_mnist(const std::string& spec) {
  std::string split = spec == kFashionMnistName ? "train" : spec.substr(std::string(kFashionMnistName).size() + 1);
  std::string prefix;
  if (split == "train") prefix = "train";
  else if (split == "test") prefix = "t10k";
  else
    throw UserError("data source '" + spec + "': unknown split '" + split + "'; valid are '" + kFashionMnistName +
                    ":train' (the default) and '" + kFashionMnistName + ":test'\n");

  const char* override_dir = std::getenv(kFashionMnistDirVariable);
  const bool overridden = override_dir && *override_dir;
  const std::filesystem::path dir = overridden ? override_dir : kFashionMnistDebianDir;
  const std::filesystem::path images = dir / (prefix + "-images-idx3-ubyte.gz");
  const std::filesystem::path labels = dir / (prefix + "-labels-idx1-ubyte.gz");
  if (!is_file(images) || !is_file(labels)) {
    std::string message = std::string("data source '") + kFashionMnistName +
                          "' needs Debian's package dataset-fashion-mnist (files in " + kFashionMnistDebianDir +
                          "); install it with: sudo apt-get install dataset-fashion-mnist";
    if (overridden) {
      std::string missing = (is_file(images) ? labels : images).filename().string();
      message += std::string(" (") + kFashionMnistDirVariable + " is '" + dir.string() + "', which has no " + missing + ")";
    }
    throw UserError(message + "\n");
  }
  return std::make_unique<ImageDataSource>(std::string(kFashionMnistName) + ":" + split, images.string(),
                                           labels.string());
}

// MNIST's naming: train-images-idx3-ubyte(.gz) beside train-labels-idx1-ubyte(.gz).
std::string labels_beside(const std::string& images_path) {
  const std::string images_tag = "images-idx3", labels_tag = "labels-idx1";
  size_t at = images_path.rfind(images_tag);
  if (at == std::string::npos) return "";
  std::string labels = images_path;
  labels.replace(at, images_tag.size(), labels_tag);
  return is_file(labels) ? labels : "";
}

}  // namespace

std::unique_ptr<DataSource> open_data_source(const std::string& spec) {
  const std::string name = kFashionMnistName;
  if (spec == name || spec.rfind(name + ":", 0) == 0) return open_fashion_mnist(spec);
  if (spec.find("idx3-ubyte") != std::string::npos)
    return std::make_unique<ImageDataSource>(spec, spec, labels_beside(spec));
  return std::make_unique<JsonDataSource>(read_data_file(spec));
}

}  // namespace latent
