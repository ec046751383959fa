// The file `latent fit --method svi --output x.fit` writes and `latent eval` /
// `latent sample` read: the learnable vector phi with its layout (network
// tensors and automatic-guide parameters by name), and what it was fitted on.
// JSON, written atomically.
#pragma once

#include "runtime/inference/svi.hpp"
#include "runtime/model/svi_model.hpp"

#include <string>
#include <vector>

namespace latent {

struct SviFit {
  std::string model;   // the model file, as given
  std::string data;    // the data spec (e.g. "fashion-mnist", a JSON path)
  int64_t max_rows = 0;
  bool analytic_kl = false;
  std::vector<double> phi;
  // A checkpoint (--checkpoint-every) also keeps where the fit is and the
  // options its continuation must share (--resume checks them).
  bool has_state = false;
  SviState state;                 // state.phi is not used: phi above
  uint64_t seed = 0;
  int64_t batch = 0;
  std::string optimizer;          // adam | sgd
  double lr = 0;
};

void write_svi_fit(const std::string& path, const SviFit& fit, const SviModel::Compiled& layout);

// Reads a fit and checks that its layout matches `layout` (the same model):
// throws UserError naming the file otherwise.
SviFit read_svi_fit(const std::string& path, const SviModel::Compiled& layout);

// Reads only what identifies the fit (model, data, options), not checked.
SviFit read_svi_fit_header(const std::string& path);

// The same from the file's text (`path` names it in messages).
SviFit parse_svi_fit_header(const std::string& text, const std::string& path);
SviFit parse_svi_fit(const std::string& text, const std::string& path, const SviModel::Compiled& layout);

}  // namespace latent
