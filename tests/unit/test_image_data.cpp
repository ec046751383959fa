// Image data: IDX files (plain and gzipped) as a DataSource, the named data
// set fashion-mnist, and PNG grids of images.
#define BOOST_TEST_MODULE image_data
#include <boost/test/unit_test.hpp>

#include "tests/support/model_fixture.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>

#include "common/source.hpp"
#include "data/data_source.hpp"
#include "data/image_source.hpp"
#include "runtime/output/png_grid.hpp"

using namespace latent;
using namespace latent::testing;
namespace fs = std::filesystem;

namespace {




// An IDX file's bytes: the magic number, big-endian dims, the data.
std::string idx(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::string out;
  auto put32 = [&](uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xFF));
  };
  put32(magic);
  for (uint32_t d : dims) put32(d);
  out.append(data.begin(), data.end());
  return out;
}

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

void write_gzipped(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  BOOST_REQUIRE(f);
  BOOST_REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
  BOOST_REQUIRE(gzclose(f) == Z_OK);
}

// Three images of 2x3 with known bytes, and their labels.
const std::vector<uint8_t> kPixels = {0,   1,   2,   3,  4,  5,    // image 0
                                      255, 128, 7,   8,  9,  10,   // image 1
                                      11,  12,  254, 13, 14, 100};  // image 2
const std::vector<uint8_t> kLabels = {9, 0, 4};

std::string images_idx() { return idx(0x00000803, {3, 2, 3}, kPixels); }
std::string labels_idx() { return idx(0x00000801, {3}, kLabels); }

void check_known_set(const DataSource& s, bool with_labels) {
  BOOST_TEST(s.read("N").values == std::vector<double>{3});
  BOOST_TEST(s.read("H").values == std::vector<double>{2});
  BOOST_TEST(s.read("W").values == std::vector<double>{3});
  BOOST_TEST(s.read("D").values == std::vector<double>{6});
  BOOST_TEST(s.is_int("N"));
  BOOST_TEST(s.dims("N").empty());
  BOOST_TEST(!s.is_int("x"));
  BOOST_TEST(s.dims("x") == (std::vector<int64_t>{3, 6}));
  DataValue x = s.read("x");
  BOOST_TEST(x.dims == (std::vector<int64_t>{3, 6}));
  BOOST_REQUIRE(x.values.size() == kPixels.size());
  for (size_t i = 0; i < kPixels.size(); ++i) BOOST_TEST(x.values[i] == kPixels[i] / 255.0);
  // The fixed binarisation at intensity 0.5: 128 / 255 is above it, 100 / 255 below.
  BOOST_TEST(s.is_int("x_binary"));
  DataValue binary = s.read("x_binary");
  BOOST_TEST(binary.dims == (std::vector<int64_t>{3, 6}));
  BOOST_TEST(binary.values == (std::vector<double>{0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}));
  BOOST_TEST(s.has("label") == with_labels);
  if (with_labels) {
    BOOST_TEST(s.names() == (std::vector<std::string>{"D", "H", "N", "W", "label", "x", "x_binary"}));
    BOOST_TEST(s.is_int("label"));
    DataValue label = s.read("label");
    BOOST_TEST(label.dims == std::vector<int64_t>{3});
    BOOST_TEST(label.values == (std::vector<double>{10, 1, 5}));
  } else {
    BOOST_TEST(s.names() == (std::vector<std::string>{"D", "H", "N", "W", "x", "x_binary"}));
  }
}

// Sets (or, given nullptr, unsets) an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  std::optional<std::string> old;
  ScopedEnv(const std::string& n, const char* value) : name(n) {
    if (const char* v = std::getenv(n.c_str())) old = v;
    if (value) ::setenv(n.c_str(), value, 1);
    else ::unsetenv(n.c_str());
  }
  ~ScopedEnv() {
    if (old) ::setenv(name.c_str(), old->c_str(), 1);
    else ::unsetenv(name.c_str());
  }
};

}  // namespace

// ---------------------------------------------------------------- IDX files

BOOST_AUTO_TEST_CASE(plain_idx_files_read_back_exactly) {
  TempDir dir;
  write_plain(dir.file("train-images-idx3-ubyte"), images_idx());
  write_plain(dir.file("train-labels-idx1-ubyte"), labels_idx());
  auto s = open_data_source(dir.file("train-images-idx3-ubyte"));
  BOOST_TEST(s->source() == dir.file("train-images-idx3-ubyte"));
  check_known_set(*s, true);
}

BOOST_AUTO_TEST_CASE(gzipped_idx_files_read_back_exactly) {
  TempDir dir;
  write_gzipped(dir.file("t10k-images-idx3-ubyte.gz"), images_idx());
  write_gzipped(dir.file("t10k-labels-idx1-ubyte.gz"), labels_idx());
  check_known_set(*open_data_source(dir.file("t10k-images-idx3-ubyte.gz")), true);
}

BOOST_AUTO_TEST_CASE(images_without_a_labels_file_have_no_label_field) {
  TempDir dir;
  write_gzipped(dir.file("my-images-idx3-ubyte.gz"), images_idx());
  auto s = open_data_source(dir.file("my-images-idx3-ubyte.gz"));
  check_known_set(*s, false);
  BOOST_TEST(contains(error_of([&] { s->dims("label"); }), "field 'label' is missing"));
}

BOOST_AUTO_TEST_CASE(read_rows_converts_the_rows_asked_for) {
  TempDir dir;
  write_plain(dir.file("a-images-idx3-ubyte"), images_idx());
  write_plain(dir.file("a-labels-idx1-ubyte"), labels_idx());
  auto s = open_data_source(dir.file("a-images-idx3-ubyte"));
  const int64_t rows[] = {2, 0, 2};
  std::vector<double> x(3 * 6, -1);
  s->read_rows("x", rows, 3, x.data());
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 6; ++k)
      BOOST_TEST(x[static_cast<size_t>(i * 6 + k)] == kPixels[static_cast<size_t>(rows[i] * 6 + k)] / 255.0);
  std::vector<double> label(3);
  s->read_rows("label", rows, 3, label.data());
  BOOST_TEST(label == (std::vector<double>{5, 10, 5}));
}

BOOST_AUTO_TEST_CASE(view_restricts_only_the_named_fields) {
  TempDir dir;
  write_plain(dir.file("a-images-idx3-ubyte"), images_idx());
  write_plain(dir.file("a-labels-idx1-ubyte"), labels_idx());
  auto s = open_data_source(dir.file("a-images-idx3-ubyte"));
  DataSet batch = s->view(s->names(), {"x"}, {1});
  BOOST_TEST(batch.find("x")->dims == (std::vector<int64_t>{1, 6}));
  BOOST_TEST(batch.find("x")->values ==
             (std::vector<double>{1.0, 128 / 255.0, 7 / 255.0, 8 / 255.0, 9 / 255.0, 10 / 255.0}));
  BOOST_TEST(!batch.find("x")->all_int);
  BOOST_TEST(batch.find("label")->dims == std::vector<int64_t>{3});  // not restricted
  BOOST_TEST(batch.find("N")->values == std::vector<double>{3});
  DataSet both = s->view(s->names(), {"x", "label"}, {2, 1});
  BOOST_TEST(both.find("x")->dims == (std::vector<int64_t>{2, 6}));
  BOOST_TEST(both.find("label")->values == (std::vector<double>{5, 1}));
  BOOST_TEST(both.find("label")->all_int);
  // Only the fields asked for are read (a model's data block), and a missing one is skipped.
  DataSet some = s->view({"N", "x", "absent"}, {"x"}, {0});
  BOOST_TEST(some.names() == (std::vector<std::string>{"N", "x"}));
}

BOOST_AUTO_TEST_CASE(malformed_idx_files_name_the_path_and_the_problem) {
  TempDir dir;
  auto open_error = [&](const std::string& name) { return error_of([&] { open_data_source(dir.file(name)); }); };

  std::string missing = open_error("absent-images-idx3-ubyte");
  BOOST_TEST(contains(missing, dir.file("absent-images-idx3-ubyte") + ": cannot open"), missing);

  write_plain(dir.file("magic-images-idx3-ubyte"), idx(0x12345678, {3, 2, 3}, kPixels));
  std::string magic = open_error("magic-images-idx3-ubyte");
  BOOST_TEST(contains(magic, dir.file("magic-images-idx3-ubyte") + ": not an IDX file: bad magic number 0x12345678"),
             magic);
  BOOST_TEST(magic.back() == '\n');

  write_plain(dir.file("float-images-idx3-ubyte"), idx(0x00000D03, {1, 1, 1}, {0, 0, 0, 0}));
  std::string type = open_error("float-images-idx3-ubyte");
  BOOST_TEST(contains(type, dir.file("float-images-idx3-ubyte") + ": unsupported element type: 32-bit float"), type);

  write_plain(dir.file("rank-images-idx3-ubyte"), idx(0x00000801, {3}, {1, 2, 3}));
  std::string rank = open_error("rank-images-idx3-ubyte");
  BOOST_TEST(contains(rank, dir.file("rank-images-idx3-ubyte") + ": has 1 dimensions"), rank);

  std::string cut = images_idx();
  cut.resize(cut.size() - 4);
  write_plain(dir.file("cut-images-idx3-ubyte"), cut);
  std::string truncated = open_error("cut-images-idx3-ubyte");
  BOOST_TEST(contains(truncated, dir.file("cut-images-idx3-ubyte") + ": truncated: the dimensions give 18 bytes"),
             truncated);

  write_gzipped(dir.file("cutgz-images-idx3-ubyte.gz"), images_idx());
  fs::resize_file(dir.file("cutgz-images-idx3-ubyte.gz"), fs::file_size(dir.file("cutgz-images-idx3-ubyte.gz")) - 12);
  std::string truncated_gz = open_error("cutgz-images-idx3-ubyte.gz");
  BOOST_TEST(contains(truncated_gz, dir.file("cutgz-images-idx3-ubyte.gz") + ": "), truncated_gz);
  BOOST_TEST(truncated_gz != "<no error>");

  write_plain(dir.file("head-images-idx3-ubyte"), idx(0x00000803, {3, 2}, {}));
  BOOST_TEST(contains(open_error("head-images-idx3-ubyte"), "truncated: the file ends inside the dimensions"));

  write_plain(dir.file("empty-images-idx3-ubyte"), "");
  BOOST_TEST(contains(open_error("empty-images-idx3-ubyte"), dir.file("empty-images-idx3-ubyte") + ": empty file"));

  write_plain(dir.file("long-images-idx3-ubyte"), images_idx() + "x");
  BOOST_TEST(contains(open_error("long-images-idx3-ubyte"), "has data after the 18 bytes"));

  write_plain(dir.file("count-images-idx3-ubyte"), images_idx());
  write_plain(dir.file("count-labels-idx1-ubyte"), idx(0x00000801, {2}, {1, 2}));
  std::string count = open_error("count-images-idx3-ubyte");
  BOOST_TEST(contains(count, dir.file("count-labels-idx1-ubyte") + ": 2 labels for the 3 images of " +
                                 dir.file("count-images-idx3-ubyte")),
             count);
}

BOOST_AUTO_TEST_CASE(other_paths_are_json) {
  TempDir dir;
  write_plain(dir.file("data.json"), R"({"N": 2, "y": [1.5, 2]})");
  auto s = open_data_source(dir.file("data.json"));
  BOOST_TEST(dynamic_cast<JsonDataSource*>(s.get()) != nullptr);
  BOOST_TEST(s->read("y").values == (std::vector<double>{1.5, 2}));
}

// ---------------------------------------------------------------- fashion-mnist

BOOST_AUTO_TEST_CASE(fashion_mnist_directory_can_be_overridden) {
  TempDir dir;
  write_gzipped(dir.file("t10k-images-idx3-ubyte.gz"), images_idx());
  write_gzipped(dir.file("t10k-labels-idx1-ubyte.gz"), labels_idx());
  ScopedEnv env("LATENT_FASHION_MNIST_DIR", dir.path.c_str());
  auto s = open_data_source("fashion-mnist:test");
  BOOST_TEST(s->source() == "fashion-mnist:test");
  check_known_set(*s, true);
  // No train files in this directory: the install hint, naming the missing file.
  std::string train = error_of([] { open_data_source("fashion-mnist"); });
  BOOST_TEST(contains(train, "install it with: sudo apt-get install dataset-fashion-mnist"), train);
  BOOST_TEST(contains(train, "train-images-idx3-ubyte.gz"), train);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_missing_gives_the_install_hint) {
  TempDir dir;
  ScopedEnv env("LATENT_FASHION_MNIST_DIR", dir.path.c_str());
  for (const char* spec : {"fashion-mnist", "fashion-mnist:train", "fashion-mnist:test"}) {
    std::string e = error_of([&] { open_data_source(spec); });
    BOOST_TEST(contains(e, "data source 'fashion-mnist' needs Debian's package dataset-fashion-mnist (files in "
                           "/usr/share/datasets/fashion-mnist); install it with: sudo apt-get install "
                           "dataset-fashion-mnist"),
               e);
    BOOST_TEST(e.back() == '\n');
  }
}

BOOST_AUTO_TEST_CASE(fashion_mnist_unknown_split_lists_the_valid_ones) {
  std::string e = error_of([] { open_data_source("fashion-mnist:validation"); });
  BOOST_TEST(contains(e, "unknown split 'validation'"), e);
  BOOST_TEST(contains(e, "'fashion-mnist:train'"), e);
  BOOST_TEST(contains(e, "'fashion-mnist:test'"), e);
}

BOOST_AUTO_TEST_CASE(debian_fashion_mnist) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist")) {
    BOOST_TEST_MESSAGE("skipped: /usr/share/datasets/fashion-mnist is absent (package dataset-fashion-mnist)");
    return;
  }
  ScopedEnv env("LATENT_FASHION_MNIST_DIR", nullptr);
  struct Split {
    const char* spec;
    int n;
  };
  for (Split split : {Split{"fashion-mnist", 60000}, Split{"fashion-mnist:test", 10000}}) {
    auto s = open_data_source(split.spec);
    BOOST_TEST(s->read("N").values == std::vector<double>{double(split.n)});
    BOOST_TEST(s->read("D").values == std::vector<double>{784});
    BOOST_TEST(s->read("H").values == std::vector<double>{28});
    BOOST_TEST(s->dims("x") == (std::vector<int64_t>{split.n, 784}));
    // Every pixel and label, a thousand rows at a time.
    double lowest = 1, highest = 0;
    bool every_label_in_range = true;
    std::vector<double> x(1000 * 784), label(1000);
    std::vector<int64_t> rows(1000);
    for (int first = 0; first < split.n; first += 1000) {
      for (int i = 0; i < 1000; ++i) rows[static_cast<size_t>(i)] = first + i;
      s->read_rows("x", rows.data(), 1000, x.data());
      s->read_rows("label", rows.data(), 1000, label.data());
      for (double v : x) lowest = std::min(lowest, v), highest = std::max(highest, v);
      for (double l : label) every_label_in_range &= l >= 1 && l <= 10 && l == std::floor(l);
    }
    BOOST_TEST(lowest == 0.0);
    BOOST_TEST(highest == 1.0);
    BOOST_TEST(every_label_in_range);
  }
}

// ---------------------------------------------------------------- PNG grids

BOOST_AUTO_TEST_CASE(png_grid_round_trips) {
  TempDir dir;
  const int h = 2, w = 3;
  std::vector<std::vector<double>> images = {
      {0, 0.5, 1, 0.25, 0.75, 1},
      {1, 1, 1, 1, 1, 1},
      {-3, 2, std::nan(""), 0, 1, 0.5},
  };
  std::string path = dir.file("grid.png");
  write_png_grid(path, images, h, w, 2);
  GrayImage png = read_png_gray(path);
  PngGridSize g = png_grid_size(3, h, w, 2);
  BOOST_TEST(g.columns == 2);
  BOOST_TEST(g.rows == 2);
  BOOST_TEST(png.width == 2 * w + kPngGridSeparator);
  BOOST_TEST(png.height == 2 * h + kPngGridSeparator);
  BOOST_TEST(png.width == g.width);
  BOOST_TEST(png.height == g.height);
  BOOST_REQUIRE(png.pixels.size() == static_cast<size_t>(png.width * png.height));
  auto at = [&](int image, int r, int c) {
    int top = (image / 2) * (h + kPngGridSeparator), left = (image % 2) * (w + kPngGridSeparator);
    return int(png.pixels[static_cast<size_t>((top + r) * png.width + left + c)]);
  };
  BOOST_TEST(at(0, 0, 0) == 0);
  BOOST_TEST(at(0, 0, 1) == 128);  // 0.5 * 255 = 127.5, rounded
  BOOST_TEST(at(0, 0, 2) == 255);
  BOOST_TEST(at(0, 1, 0) == 64);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) BOOST_TEST(at(1, r, c) == 255);
  BOOST_TEST(at(2, 0, 0) == 0);    // clamped
  BOOST_TEST(at(2, 0, 1) == 255);  // clamped
  BOOST_TEST(at(2, 0, 2) == 0);    // NaN
  BOOST_TEST(at(2, 1, 1) == 255);
  BOOST_TEST(int(png.pixels[static_cast<size_t>(w)]) == kPngGridSeparatorGray);  // between images 0 and 1
  BOOST_TEST(at(3, 0, 0) == kPngGridSeparatorGray);                              // the empty cell

  // Fewer images than columns: one row, only as wide as the images.
  write_png_grid(path, {images[0]}, h, w, 8);
  png = read_png_gray(path);
  BOOST_TEST(png.width == w);
  BOOST_TEST(png.height == h);
}

BOOST_AUTO_TEST_CASE(png_grid_errors_leave_no_file) {
  TempDir dir;
  std::vector<std::vector<double>> one = {{0, 1, 0, 1}};
  std::string missing_dir = dir.file("no/such/dir/grid.png");
  std::string e = error_of([&] { write_png_grid(missing_dir, one, 2, 2, 1); });
  BOOST_TEST(contains(e, missing_dir), e);
  BOOST_TEST(!fs::exists(missing_dir));

  fs::create_directories(dir.path / "a_directory");
  e = error_of([&] { write_png_grid(dir.file("a_directory"), one, 2, 2, 1); });
  BOOST_TEST(contains(e, dir.file("a_directory")), e);

  std::string path = dir.file("grid.png");
  e = error_of([&] { write_png_grid(path, {}, 2, 2, 1); });
  BOOST_TEST(contains(e, path + "': no images"), e);
  e = error_of([&] { write_png_grid(path, {{0, 1, 0}}, 2, 2, 1); });
  BOOST_TEST(contains(e, path + "': image 0 has 3 values, expected 2x2 = 4"), e);
  e = error_of([&] { write_png_grid(path, one, 2, 2, 0); });
  BOOST_TEST(contains(e, path), e);
  BOOST_TEST(dir.entries() == std::vector<std::string>{"a_directory"});  // no file, no temporary

  e = error_of([&] { read_png_gray(path); });
  BOOST_TEST(contains(e, "cannot read PNG '" + path + "'"), e);
  write_plain(path, "not a png");
  e = error_of([&] { read_png_gray(path); });
  BOOST_TEST(contains(e, "cannot read PNG '" + path + "'"), e);
}
