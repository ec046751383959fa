#include "runtime/model/svi_model.hpp"

#include "compiler/driver/pipeline.hpp"
#include "data/check_data.hpp"
#include "kernels/eval_context.hpp"
#include "runtime/model/plate.hpp"

#include <cmath>
#include <random>
#include <sstream>

namespace latent {

using ir::NodeP;

SviModel::SviModel(std::shared_ptr<const ast::Program> program, std::shared_ptr<const DataSource> data,
                   int64_t max_rows)
    : program_(std::move(program)), data_(std::move(data)) {
  PlateInfo plate = plate_of(*program_);
  plate_ = plate.name;
  plate_info_ = plate;
  rows_ = plate_rows(plate, *data_);
  if (!plate_.empty() && max_rows > 0 && max_rows < rows_) rows_ = max_rows;
}

LoweredProgram SviModel::lower(int64_t rows) const {
  // The data as the compiled code sees it: the plate at `rows`, its fields cut to `rows` rows.
  std::vector<int64_t> first(static_cast<size_t>(plate_.empty() ? 0 : rows));
  for (int64_t i = 0; i < static_cast<int64_t>(first.size()); ++i) first[static_cast<size_t>(i)] = i;
  return driver::lower(*program_, batch_view(plate_info_, *data_, first), {.keep_constants = true});
}

const SviModel::Compiled& SviModel::compiled(int64_t rows, const SviOptions& options, Use use) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_tuple(rows, options.analytic_kl, options.local_scale, options.global_scale, use,
                             options.single_precision_products);
  auto& slot = compiled_[key];
  if (slot) return *slot;
  auto c = std::make_unique<Compiled>();
  c->rows = rows;
  c->lowered = lower(rows);
  // Training: the ELBO and its gradient; evaluation: the ELBO and the per-datum log weights.
  driver::Compiled code = driver::compile(c->lowered, driver::Method::stochastic_vi(options, use == Use::Evaluation));
  c->objective = std::move(*code.objective.svi);
  // The learnable vector must not depend on the batch size: a per-datum latent
  // needs an amortised guide (the automatic one would have variational
  // parameters per row of the batch).
  for (const AutoGuided& a : c->objective.layout.automatic)
    for (const ParameterInfo& par : c->lowered.parameters)
      if (par.name == a.name && par.plate)
        throw UserError(program_->source->path + ": parameter '" + par.name + "' is indexed by the plate '" + plate_ +
                        "'; give it a distribution in the guide block to fit it by SVI (an amortised guide: its "
                        "learnable values must not grow with the data)\n");
  (use == Use::Training ? c->elbo_grad : c->elbo) = code.functions.at(0);
  if (code.functions.size() > 1) c->log_weights = code.functions[1];
  for (int64_t w : code.workspace) c->workspace = std::max(c->workspace, w);
  slot = std::move(c);
  return *slot;
}

const SviModel::Compiled& SviModel::reference() { return compiled(1, {}); }

void SviModel::gather(const Compiled& c, const int64_t* rows, std::vector<double>& buffer) const {
  if (buffer.size() != c.lowered.data.size()) buffer = c.lowered.data;
  thread_local std::vector<double> row_major;  // reused: no allocation per batch
  for (const PlateField& f : c.lowered.plate_fields) {
    int64_t size = 1;
    for (auto d : f.shape.dims) size *= d;
    row_major.resize(static_cast<size_t>(size));
    data_->read_rows(f.shape.name, rows, c.rows, row_major.data());
    for (int64_t i = 0; i < size; ++i) {
      double v = row_major[static_cast<size_t>(i)];
      bool low = f.shape.lower && !(v >= *f.shape.lower), high = f.shape.upper && !(v <= *f.shape.upper);
      if (!low && !high && (!f.shape.is_int || v == std::floor(v))) continue;
      int64_t row_size = size / c.rows;
      std::ostringstream msg;
      msg << data_->source() << ": field '" << f.shape.name << "': value " << v << " in row "
          << rows[i / row_size] + 1 << " is "
          << (low ? "below its lower bound" : high ? "above its upper bound" : "not an integer");
      throw UserError(msg.str() + "\n");
    }
    double* dst = buffer.data() + f.offset;
    if (f.shape.dims.size() == 2 && f.shape.is_matrix_last2) {
      // matrix[rows, cols]: row-major rows into column-major storage.
      // In blocks of 16 rows, so that both sides stay in cache lines being used.
      const int64_t rows_n = f.shape.dims[0], cols = f.shape.dims[1];
      const double* src = row_major.data();
      for (int64_t r0 = 0; r0 < rows_n; r0 += 16) {
        const int64_t r1 = std::min(rows_n, r0 + 16);
        for (int64_t k = 0; k < cols; ++k)
          for (int64_t r = r0; r < r1; ++r) dst[k * rows_n + r] = src[r * cols + k];
      }
    } else if (f.shape.dims.size() == 1) {
      std::copy(row_major.begin(), row_major.end(), dst);
    } else {
      std::vector<double> stored = to_storage_order(row_major, f.shape.dims, f.shape.is_matrix_last2);
      std::copy(stored.begin(), stored.end(), dst);
    }
  }
}

void SviModel::call(const Compiled& c, codegen::KernelFn fn, const double* phi, const double* data,
                    const double* noise, double* out, EvalContext* ctx) {
  thread_local std::vector<double> workspace;
  if (workspace.size() < static_cast<size_t>(c.workspace) + 8) workspace.resize(static_cast<size_t>(c.workspace) + 8);
  EvalContext local;
  EvalContext* used = ctx ? ctx : &local;
  used->messages = &c.lowered.graph->messages();
  const double* inputs[] = {phi, data, noise};
  fn(inputs, out, workspace.data(), used);
}

std::vector<double> initial_phi(const SviModel::Compiled& c, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<double> phi(static_cast<size_t>(c.num_phi()), 0.0);
  const SviLayout& L = c.objective.layout;
  for (const NetworkTensor& t : c.lowered.network) {
    if (t.init_bound == 0) continue;  // init=zeros
    std::uniform_real_distribution<double> u(-t.init_bound, t.init_bound);
    int64_t base = t.buffer == 3 ? 0 : L.guide_network_offset;
    for (int64_t i = 0; i < t.size(); ++i) phi[static_cast<size_t>(base + t.offset + i)] = u(rng);
  }
  std::uniform_real_distribution<double> u(-2, 2);
  for (const AutoGuided& a : L.automatic)
    for (int64_t i = 0; i < a.size; ++i) phi[static_cast<size_t>(L.auto_offset + a.phi_offset + i)] = u(rng);
  return phi;
}

}  // namespace latent
