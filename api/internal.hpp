// Internal state behind the public API's handles (include/latent/*.hpp), and the
// translation of internal exceptions into latent::Error. Not installed.
#pragma once

#include "latent/latent.hpp"

#include "compiler/frontend/ast.hpp"
#include "common/source.hpp"
#include "data/json_data.hpp"
#include "runtime/inference/advi.hpp"
#include "runtime/model/bound_model.hpp"

#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

namespace latent {

struct Data::Impl {
  DataSet set;
};

struct Model::Impl {
  std::shared_ptr<const ast::Program> program;
  std::string name;
};

struct Posterior::Impl {
  std::shared_ptr<const ast::Program> program;
  std::unique_ptr<const BoundModel> model;
  // The data it was bound to (shared, copy on write), for the model that keeps the
  // constants `~` drops: CmdStan's log_p__ of VIFit::draws, built on first use.
  std::shared_ptr<const Data::Impl> data;
  mutable std::once_flag with_constants_once;
  mutable std::unique_ptr<const BoundModel> with_constants;
  const BoundModel& model_with_constants() const {
    std::call_once(with_constants_once, [&] {
      with_constants = std::make_unique<const BoundModel>(program, data->set, BoundModel::Options{nullptr, 0, true});
    });
    return *with_constants;
  }
  std::string name;
  int64_t unc_num = 0;
  std::vector<std::string> param_names, tp_names, gq_names, output_names;
  std::vector<Variable> variables;
};

struct VIFit::Impl {
  std::shared_ptr<const Posterior::Impl> posterior;
  AdviResult result;
  uint64_t draws_seed = 1;
};

namespace api {

// Error's message: the internal one without its final newline.
inline std::string message_of(const std::exception& e) {
  std::string m = e.what();
  while (!m.empty() && m.back() == '\n') m.pop_back();
  return m;
}

// Runs f, turning UserError into Error (same message) and other standard
// exceptions into Error of kind internal. std::bad_alloc passes through.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;
  } catch (const UserError& e) {
    throw Error(message_of(e), Error::Kind::user);
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    throw Error("latent: internal error: " + message_of(e), Error::Kind::internal);
  }
}

}  // namespace api
}  // namespace latent
