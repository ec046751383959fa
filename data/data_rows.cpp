#include "data/data_rows.hpp"

#include "common/source.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace latent {

std::string test_split_of(const std::string& spec) {
  if (spec == "fashion-mnist" || spec.rfind("fashion-mnist:", 0) == 0) return "fashion-mnist:test";
  const std::string tag = "train-images-idx3-ubyte";
  size_t at = spec.rfind(tag);
  if (at == std::string::npos) return "";
  std::string test = spec;
  test.replace(at, 5, "t10k");
  const bool gz = test.ends_with(".gz");
  for (const std::string& candidate : {test, gz ? test.substr(0, test.size() - 3) : test + ".gz"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(candidate, ec)) return candidate;
  }
  return "";
}

std::vector<DataRow> parse_rows(const std::string& spec, const std::string& data_spec,
                                std::shared_ptr<const DataSource> train, const std::string& plate) {
  std::shared_ptr<const DataSource> test;
  std::vector<DataRow> out;
  auto bad = [&](const std::string& item, const std::string& why) {
    return UserError("rows '" + item + "': " + why +
                     " (write A-B for rows A to B of the fit's data, 0-based and inclusive, train:A-B the same, "
                     "test:A-B for rows of its test split; several separated by commas)\n");
  };
  auto number = [&](const std::string& item, const std::string& text) {
    if (text.empty() || text.size() > 12 || !std::all_of(text.begin(), text.end(), ::isdigit))
      throw bad(item, "'" + text + "' is not a row number");
    return std::stoll(text);
  };
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    std::string range = item, split = "train";
    size_t colon = item.find(':');
    if (colon != std::string::npos) {
      split = item.substr(0, colon);
      range = item.substr(colon + 1);
    }
    std::shared_ptr<const DataSource> src;
    if (split == "train") {
      src = train;
    } else if (split == "test") {
      if (!test) {
        std::string t = test_split_of(data_spec);
        if (t.empty())
          throw UserError("rows '" + item + "': the data source '" + data_spec + "' has no test split (test splits "
                          "exist for fashion-mnist and for MNIST-named IDX files train-images-idx3-ubyte[.gz] with "
                          "t10k-images-idx3-ubyte[.gz] beside them); use rows of the fit's data: A-B or train:A-B\n");
        test = open_data_source(t);
      }
      src = test;
    } else {
      throw bad(item, "unknown split '" + split + "'");
    }
    size_t dash = range.find('-');
    int64_t lo = number(item, range.substr(0, dash));
    int64_t hi = dash == std::string::npos ? lo : number(item, range.substr(dash + 1));
    if (hi < lo) throw bad(item, "the range is empty");
    int64_t n = 0;
    if (plate.empty() || !src->has(plate)) {
      throw UserError("rows '" + item + "': the model has no plate (int<plate> N), so its data has no rows to pick\n");
    } else {
      DataValue v = src->read(plate);
      n = v.values.empty() ? 0 : static_cast<int64_t>(v.values[0]);
    }
    if (hi >= n)
      throw UserError("rows '" + item + "': row " + std::to_string(hi) + " is out of range: " + src->source() +
                      " has " + std::to_string(n) + " rows, numbered 0 to " + std::to_string(n - 1) + "\n");
    if (hi - lo >= 10000000) throw bad(item, "too many rows");
    for (int64_t r = lo; r <= hi; ++r) out.push_back({src, r});
  }
  if (out.empty()) throw bad(spec, "no rows given");
  return out;
}

}  // namespace latent
