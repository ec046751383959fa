// Rows of data sources named on the command line (`latent sample --reconstruct
// test:0-63`): a data source and a 0-based row of its plate.
#pragma once

#include "data/data_source.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace latent {

// One row of a data source (0-based).
struct DataRow {
  std::shared_ptr<const DataSource> source;
  int64_t row = 0;
};

// Rows named on the command line: "0-63", "5", "train:5-9", "test:0-63",
// several separated by commas ("test:0,test:1"). `train:` and plain rows are
// rows of `data_spec` (the fit's data); `test:` rows are rows of its test
// split (fashion-mnist[:train] -> fashion-mnist:test, an MNIST-named
// train-images-idx3-ubyte[.gz] -> t10k-images-idx3-ubyte[.gz] beside it).
// `train` is the already open source for data_spec. Throws UserError for a
// malformed spec, a source without a test split or a row out of range.
std::vector<DataRow> parse_rows(const std::string& spec, const std::string& data_spec,
                                std::shared_ptr<const DataSource> train, const std::string& plate);

// The test split of a data spec ("" when it has none).
std::string test_split_of(const std::string& data_spec);

}  // namespace latent
