#include "runtime/output/generated_output.hpp"

#include "common/source.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/csv.hpp"
#include "runtime/output/png_grid.hpp"

#include <algorithm>
#include <cmath>

namespace latent {

std::vector<double> Generated::row(size_t field, int64_t r) const {
  const int64_t n = fields.at(field).row_size();
  auto begin = values.at(field).begin() + r * n;
  return std::vector<double>(begin, begin + n);
}

std::pair<int, int> image_shape(const DataSource& data, const GeneratedField& field) {
  const int64_t size = field.row_size();
  auto scalar = [&](const char* name) -> int64_t {
    if (!data.has(name) || !data.dims(name).empty()) return 0;
    DataValue v = data.read(name);
    return v.all_int ? static_cast<int64_t>(v.values.at(0)) : 0;
  };
  int64_t h = scalar("H"), w = scalar("W");
  if (h > 0 && w > 0 && h * w == size) return {static_cast<int>(h), static_cast<int>(w)};
  if (field.row_dims.size() == 2 && field.row_dims[0] > 0)
    return {static_cast<int>(field.row_dims[0]), static_cast<int>(field.row_dims[1])};
  int64_t side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(size))));
  if (side > 0 && side * side == size && side < 65536) return {static_cast<int>(side), static_cast<int>(side)};
  throw UserError("sample: cannot show '" + field.name + "' as images: its rows have " + std::to_string(size) +
                  " values, which is not a square, and the data has no fields H and W with H * W = " +
                  std::to_string(size) + "; write the values with --csv instead\n");
}

void write_generated_csv(const std::string& path, const Generated& g) {
  std::string text;
  std::vector<std::string> header;
  for (const GeneratedField& f : g.fields) {
    // Row-major names (the order of the values): x.1, x.2, ... or y.1.1, y.1.2, ...
    const int64_t n = f.row_size();
    for (int64_t i = 0; i < n; ++i) {
      std::string name = f.name;
      int64_t rest = i;
      std::vector<int64_t> idx(f.row_dims.size());
      for (size_t k = f.row_dims.size(); k-- > 0;) {
        idx[k] = rest % f.row_dims[k];
        rest /= f.row_dims[k];
      }
      for (int64_t x : idx) name += "." + std::to_string(x + 1);
      header.push_back(name);
    }
  }
  for (size_t i = 0; i < header.size(); ++i) text += (i ? "," : "") + header[i];
  text += "\n";
  for (int64_t r = 0; r < g.rows; ++r) {
    bool first = true;
    for (size_t f = 0; f < g.fields.size(); ++f) {
      const int64_t n = g.fields[f].row_size();
      for (int64_t i = 0; i < n; ++i) {
        if (!first) text += ",";
        first = false;
        text += format_double(g.values[f][static_cast<size_t>(r * n + i)]);
      }
    }
    text += "\n";
  }
  write_file_atomically(path, text);
}

void write_generated_png(const std::string& path, const Generated& g, size_t field, int height, int width,
                         int columns, const Generated* originals) {
  const int64_t n = g.fields.at(field).row_size();
  if (static_cast<int64_t>(height) * width != n)
    throw UserError("sample: images of " + std::to_string(height) + " x " + std::to_string(width) + " pixels need " +
                    std::to_string(static_cast<int64_t>(height) * width) + " values per row, '" +
                    g.fields[field].name + "' has " + std::to_string(n) + "\n");
  columns = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(columns, g.rows)));
  std::vector<std::vector<double>> images;
  const std::vector<double> blank(static_cast<size_t>(n), kPngGridSeparatorGray / 255.0);
  for (int64_t start = 0; start < g.rows; start += columns) {
    const int64_t end = std::min<int64_t>(start + columns, g.rows);
    if (originals) {
      for (int64_t r = start; r < end; ++r) images.push_back(originals->row(field, r));
      for (int64_t r = end; r < start + columns; ++r) images.push_back(blank);  // keep the rows aligned
    }
    for (int64_t r = start; r < end; ++r) images.push_back(g.row(field, r));
  }
  write_png_grid(path, images, height, width, columns);
}

void write_generated_fasta(const std::string& path, const Generated& g, size_t field, const std::string& alphabet) {
  const int64_t k = static_cast<int64_t>(alphabet.size()), n = g.fields.at(field).row_size();
  if (k < 2) throw UserError("sample: --alphabet needs at least two letters\n");
  if (n % k != 0)
    throw UserError("sample: '" + g.fields[field].name + "' has " + std::to_string(n) + " values per row, not a " +
                    "multiple of the alphabet's " + std::to_string(k) + " letters (one-hot letters, " +
                    "category-major, are expected)\n");
  const int64_t length = n / k;
  std::string text;
  for (int64_t r = 0; r < g.rows; ++r) {
    std::vector<double> row = g.row(field, r);
    text += ">sample_" + std::to_string(r + 1) + "\n";
    for (int64_t l = 0; l < length; ++l) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; ++c)
        if (row[static_cast<size_t>(c * length + l)] > row[static_cast<size_t>(best * length + l)]) best = c;
      text += alphabet[static_cast<size_t>(best)];
    }
    text += "\n";
  }
  write_file_atomically(path, text);
}

}  // namespace latent
