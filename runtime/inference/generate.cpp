#include "runtime/inference/generate.hpp"

#include "compiler/driver/pipeline.hpp"
#include "data/check_data.hpp"
#include "kernels/eval_context.hpp"
#include "runtime/model/plate.hpp"
#include "runtime/output/svi_fit.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <sstream>

namespace latent {

using ir::NodeP;

namespace {

enum Step { kPrior = 0, kEncoder = 1, kDraw = 2, kDecoder = 3, kQuantities = 4 };

int64_t product(const std::vector<int64_t>& dims, size_t from = 0) {
  int64_t n = 1;
  for (size_t i = from; i < dims.size(); ++i) n *= dims[i];
  return n;
}

// The inverse of to_storage_order: storage order -> JSON nesting order.
std::vector<double> to_row_major(const double* stored, const std::vector<int64_t>& dims, bool is_matrix_last2) {
  const int64_t size = product(dims);
  std::vector<double> out(stored, stored + size);
  if (!is_matrix_last2 || dims.size() < 2) return out;
  const int64_t rows = dims[dims.size() - 2], cols = dims.back(), block = rows * cols;
  if (block == 0) return out;
  for (int64_t e = 0; e < size / block; ++e)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) out[e * block + r * cols + c] = stored[e * block + c * rows + r];
  return out;
}

}  // namespace

// The program lowered for R rows, its generated variables and the steps
// (compiler/transforms/generation.hpp) compiled from it on demand.
struct Generator::Stage {
  int64_t rows = 0;
  LoweredProgram lowered;
  std::vector<GeneratedVariable> variables;
  struct Compiled {
    codegen::KernelFn fn = nullptr;
    int64_t workspace = 0;
    GenerationProgram program;
    bool draw_globals = false;  // what the prior step draws
  } steps[5];
  std::vector<double> work;

  // Indices of the parameters read by `roots`.
  std::set<size_t> parameters_read(const std::vector<NodeP>& roots) const {
    std::map<int64_t, size_t> at;
    for (size_t i = 0; i < lowered.parameters.size(); ++i) at[lowered.parameters[i].unconstrained_offset] = i;
    std::set<size_t> out;
    for (NodeP n : ir::topological_order(roots))
      if (n->op == ir::Op::Input && n->a == 0) out.insert(std::prev(at.upper_bound(n->b))->second);
    return out;
  }
};

// ---- construction ---------------------------------------------------------

Generator::Generator(std::shared_ptr<const ast::Program> program, std::shared_ptr<const DataSource> data)
    : program_(std::move(program)), data_(std::move(data)) {
  PlateInfo plate = plate_of(*program_);
  plate_ = plate.name;
  plate_info_ = plate;
  if (!plate_.empty()) rows_ = plate_rows(plate, *data_);
  // The layout of phi, as the fit file records it (as SviModel::reference(): one row).
  Stage& one = stage(1);
  layout_ = std::make_unique<SviModel::Compiled>();
  layout_->rows = 1;
  {
    std::vector<int64_t> first(plate_.empty() ? 0 : 1, 0);
    layout_->lowered = driver::lower(*program_, batch_view(plate_info_, *data_, first), {.keep_constants = true});
    layout_->objective = *driver::build(layout_->lowered, driver::Method::stochastic_vi({}, false)).svi;
  }
  for (const GeneratedVariable& v : one.variables) {
    GeneratedField gf;
    gf.name = v.name;
    gf.is_matrix = v.is_matrix;
    gf.row_dims = v.stan_dims;
    if (!plate_.empty()) gf.row_dims.erase(gf.row_dims.begin());
    gf.distribution = v.distribution;
    fields_.push_back(gf);
  }
}

Generator::~Generator() = default;

const std::string& Generator::model_path() const { return program_->source->path; }

void Generator::set_phi(std::vector<double> phi) {
  if (static_cast<int64_t>(phi.size()) != layout_->num_phi())
    throw UserError("sample: the fit has " + std::to_string(phi.size()) + " learnable values, the model " +
                    model_path() + " needs " + std::to_string(layout_->num_phi()) + "\n");
  phi_ = std::move(phi);
  phi_set_ = true;
}

void Generator::read_fit(const std::string& path) { set_phi(read_svi_fit(path, *layout_).phi); }

Generator::Stage& Generator::stage(int64_t rows) {
  if (plate_.empty()) rows = 1;
  auto& slot = stages_[rows];
  if (slot) return *slot;
  auto s = std::make_unique<Stage>();
  s->rows = rows;
  // The data with the plate at R rows (the first rows of the source, repeated
  // when R exceeds them: generating from the prior reads no data values).
  std::vector<int64_t> first(static_cast<size_t>(plate_.empty() ? 0 : rows));
  for (int64_t i = 0; i < static_cast<int64_t>(first.size()); ++i) first[static_cast<size_t>(i)] = i % rows_;
  // ancestral: parameters drawn element by element (z[t] ~ ...) are simulated.
  s->lowered = driver::lower(*program_, batch_view(plate_info_, *data_, first),
                             {.keep_constants = true, .ancestral = true});
  s->variables = generated_variables(s->lowered, model_path());
  slot = std::move(s);
  return *slot;
}

const LoweredProgram& Generator::lowered(int64_t rows) { return stage(rows).lowered; }

Globals Generator::effective(Globals g) const {
  if (g != Globals::Default) return g;
  return plate_.empty() ? Globals::Prior : Globals::Fit;
}

// ---- compiling --------------------------------------------------------------

void Generator::compile(Stage& s, int which, Globals globals) {
  Stage::Compiled& step = s.steps[which];
  bool draw_globals = effective(globals) == Globals::Prior;
  if (step.fn && (which != kPrior || step.draw_globals == draw_globals)) return;
  static const GenerationStep kinds[] = {GenerationStep::Prior, GenerationStep::Encoder, GenerationStep::Draw,
                                         GenerationStep::Decoder, GenerationStep::Quantities};
  driver::Compiled c = driver::compile(s.lowered, driver::Method::generate(kinds[which], draw_globals));
  step.fn = c.functions.at(0);
  step.workspace = c.workspace.at(0);
  step.program = std::move(*c.objective.generation);
  step.draw_globals = draw_globals;
}

void Generator::run(const Stage& s, int which, const double* theta, const double* data, std::vector<double>& out) {
  if (!phi_set_ && layout_->num_phi() > 0)
    throw UserError("sample: no fit: read one with read_fit or set phi (" + model_path() + ")\n");
  Stage& st = const_cast<Stage&>(s);
  const Stage::Compiled& step = s.steps[which];
  if (st.work.size() < static_cast<size_t>(step.workspace) + 8) st.work.resize(static_cast<size_t>(step.workspace) + 8);
  const double* model_net = phi_.data();
  const double* guide_net = phi_.data() + std::min<int64_t>(layout_->objective.layout.guide_network_offset,
                                                            static_cast<int64_t>(phi_.size()));
  const double* inputs[] = {theta, data, nullptr, model_net, guide_net};
  EvalContext ctx;
  ctx.rng = &rng_;
  ctx.messages = &s.lowered.graph->messages();
  step.fn(inputs, out.data(), st.work.data(), &ctx);
  if (ctx.failed) throw UserError(ctx.failure_text() + "\n");
}

// ---- data -------------------------------------------------------------------

void Generator::gather(const Stage& s, const std::vector<DataRow>& rows, std::vector<double>& buffer) const {
  buffer = s.lowered.data;
  if (plate_.empty()) return;
  const int64_t R = s.rows;
  for (const PlateField& f : s.lowered.plate_fields) {
    const int64_t row_size = product(f.shape.dims, 1);
    std::vector<double> row_major(static_cast<size_t>(R * row_size));
    for (int64_t r = 0; r < R; ++r) {
      const DataRow& dr = rows.at(static_cast<size_t>(r));
      const DataSource& src = *dr.source;
      if (!src.has(f.shape.name))
        throw UserError(src.source() + ": field '" + f.shape.name + "' is missing (the model reads it per row)\n");
      std::vector<int64_t> dims = src.dims(f.shape.name);
      if (dims.size() != f.shape.dims.size() || !std::equal(dims.begin() + 1, dims.end(), f.shape.dims.begin() + 1)) {
        std::ostringstream msg;
        msg << src.source() << ": field '" << f.shape.name << "' has rows of another shape than in " << data_->source()
            << ", the data the model is bound to";
        throw UserError(msg.str() + "\n");
      }
      if (dr.row < 0 || dr.row >= dims[0])
        throw UserError(src.source() + ": row " + std::to_string(dr.row) + " is out of range (it has " +
                        std::to_string(dims[0]) + " rows, numbered from 0)\n");
      src.read_rows(f.shape.name, &dr.row, 1, row_major.data() + r * row_size);
      for (int64_t i = 0; i < row_size; ++i) {
        double v = row_major[static_cast<size_t>(r * row_size + i)];
        bool low = f.shape.lower && !(v >= *f.shape.lower), high = f.shape.upper && !(v <= *f.shape.upper);
        if (!low && !high && (!f.shape.is_int || v == std::floor(v))) continue;
        std::ostringstream msg;
        msg << src.source() << ": field '" << f.shape.name << "': value " << v << " in row " << dr.row << " (from 0) is "
            << (low ? "below its lower bound" : high ? "above its upper bound" : "not an integer");
        throw UserError(msg.str() + "\n");
      }
    }
    std::vector<double> stored = to_storage_order(row_major, f.shape.dims, f.shape.is_matrix_last2);
    std::copy(stored.begin(), stored.end(), buffer.begin() + f.offset);
  }
}

Generated Generator::originals(const std::vector<DataRow>& rows) const {
  Generated out;
  out.rows = static_cast<int64_t>(rows.size());
  out.fields = fields_;
  for (const GeneratedField& f : fields_) {
    std::vector<double> values(static_cast<size_t>(out.rows * f.row_size()));
    for (size_t r = 0; r < rows.size(); ++r) {
      const DataSource& src = *rows[r].source;
      std::vector<int64_t> dims = src.dims(f.name);
      if (dims.empty() || product(dims, 1) != f.row_size())
        throw UserError(src.source() + ": field '" + f.name + "' has rows of another shape than the model's\n");
      if (rows[r].row < 0 || rows[r].row >= dims[0])
        throw UserError(src.source() + ": row " + std::to_string(rows[r].row) + " is out of range (it has " +
                        std::to_string(dims[0]) + " rows, numbered from 0)\n");
      src.read_rows(f.name, &rows[r].row, 1, values.data() + static_cast<int64_t>(r) * f.row_size());
    }
    out.values.push_back(std::move(values));
  }
  return out;
}

// ---- theta --------------------------------------------------------------------

std::vector<double> Generator::fitted_theta(int64_t rows) {
  Stage& s = stage(rows);
  std::vector<double> theta(static_cast<size_t>(s.lowered.num_unconstrained), 0.0);
  if (!phi_set_) return theta;
  const SviLayout& L = layout_->objective.layout;
  for (const AutoGuided& a : L.automatic)
    for (const ParameterInfo& par : s.lowered.parameters)
      if (par.name == a.name && par.unconstrained_size == a.size)
        std::copy_n(phi_.begin() + L.auto_offset + a.phi_offset, a.size, theta.begin() + par.unconstrained_offset);
  return theta;
}

std::vector<double> Generator::encoded_theta(Stage& s, const std::vector<double>& data) {
  std::vector<double> theta = fitted_theta(s.rows);
  if (s.lowered.guide.empty()) return theta;
  compile(s, kEncoder, Globals::Default);
  std::vector<double> out(static_cast<size_t>(s.lowered.num_unconstrained));
  run(s, kEncoder, theta.data(), data.data(), out);
  for (auto [offset, size] : s.steps[kEncoder].program.written)
    std::copy_n(out.begin() + offset, size, theta.begin() + offset);
  return theta;
}

std::vector<double> Generator::encode(const std::vector<DataRow>& rows) {
  if (plate_.empty())
    throw UserError(model_path() + ": sample: the model has no plate (int<plate> N), so no data point to encode\n");
  Stage& s = stage(static_cast<int64_t>(rows.size()));
  // Every plate parameter the decoder reads needs the guide's distribution.
  std::vector<NodeP> means;
  for (const GeneratedVariable& v : s.variables) means.push_back(v.mean ? v.mean : v.draw);
  std::set<std::string> guided;
  for (const GuideDraw& d : s.lowered.guide) guided.insert(d.parameter);
  bool any = false;
  for (size_t i : s.parameters_read(means)) {
    const ParameterInfo& par = s.lowered.parameters[i];
    if (!par.plate) continue;
    if (!guided.count(par.name))
      throw UserError(model_path() + ": sample: parameter '" + par.name + "' is indexed by the plate but the guide "
                      "block gives it no distribution: there is no encoder to take its mean from\n");
    any = true;
  }
  if (!any)
    throw UserError(model_path() + ": sample: the generated data depend on no guided parameter indexed by the plate: "
                    "there is nothing to encode\n");
  std::vector<double> data;
  gather(s, rows, data);
  return encoded_theta(s, data);
}

std::vector<double> Generator::prior_theta(int64_t rows, uint64_t seed, Globals globals) {
  Stage& s = stage(rows);
  globals = effective(globals);
  compile(s, kPrior, globals);
  // Global parameters at their fitted values (the guide's means where the guide block covers them).
  std::vector<double> theta = fitted_theta(s.rows);
  if (globals == Globals::Fit) {
    bool guided_global = false;
    for (const GuideDraw& d : s.lowered.guide)
      for (const ParameterInfo& par : s.lowered.parameters) guided_global |= par.name == d.parameter && !par.plate;
    if (guided_global) theta = encoded_theta(s, s.lowered.data);
  }
  rng_ = random_engine(seed);
  std::vector<double> out(static_cast<size_t>(s.lowered.num_unconstrained));
  run(s, kPrior, theta.data(), s.lowered.data.data(), out);
  for (auto [offset, size] : s.steps[kPrior].program.written) std::copy_n(out.begin() + offset, size, theta.begin() + offset);
  return theta;
}

Generated Generator::decode(const std::vector<double>& theta, int64_t rows) {
  Stage& s = stage(rows);
  if (static_cast<int64_t>(theta.size()) != s.lowered.num_unconstrained)
    throw std::invalid_argument("Generator::decode: theta has " + std::to_string(theta.size()) + " values, not " +
                                std::to_string(s.lowered.num_unconstrained));
  // A program with generated quantities generates those (their _rng calls draw).
  const int which = !s.lowered.generated_quantities.empty() ? kQuantities : output_ == Output::Means ? kDecoder : kDraw;
  compile(s, which, Globals::Default);
  std::vector<double> out(static_cast<size_t>(s.steps[which].program.out_size));
  bool ancestral = false;
  for (const GeneratedVariable& v : s.variables) ancestral |= v.depends_on_itself;
  if (which == kDraw && ancestral) {
    out = draw_position_by_position(s, theta);
  } else {
    run(s, which, theta.data(), s.lowered.data.data(), out);
  }
  Generated g;
  g.rows = s.rows;
  g.fields = fields_;
  for (const GeneratedVariable& v : s.variables)
    g.values.push_back(to_row_major(out.data() + v.out_offset, v.stan_dims, v.is_matrix));
  return g;
}

// A variable that feeds its own distribution (an autoregressive model) is drawn
// one outcome of each row at a time, in index order: each pass draws every
// outcome from the data buffer as it stands and keeps the p-th of each row,
// which later passes then read. (An outcome is an element, or a one-hot row for
// a categorical; see GeneratedVariable::events.) The means of each outcome,
// recorded when it was drawn, must equal the means given the finished draw:
// otherwise its distribution read a later outcome (the model is not
// autoregressive in index order) and the draw would be wrong, so it is refused.
std::vector<double> Generator::draw_position_by_position(Stage& s, const std::vector<double>& theta) {
  compile(s, kDecoder, Globals::Default);
  std::vector<double> data = s.lowered.data;
  const int64_t rows = plate_.empty() ? 1 : s.rows;
  struct Progress {
    const GeneratedVariable* v;
    std::vector<std::vector<int64_t>> events_of_row;  // each row's outcomes, in index order
    std::vector<double> means;                         // recorded when drawn (storage order)
  };
  std::vector<Progress> self;
  int64_t positions = 0;
  for (const GeneratedVariable& v : s.variables) {
    if (!v.depends_on_itself) continue;
    const int64_t size = product(v.stan_dims);
    // The row (datum) of each stored element: row-major index i is in row i / (size / rows).
    std::vector<double> row_major(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) row_major[static_cast<size_t>(i)] = static_cast<double>(i / (size / rows));
    std::vector<double> row_of = rows > 1 ? to_storage_order(row_major, v.stan_dims, v.is_matrix) : std::vector<double>(size, 0.0);
    Progress p{&v, std::vector<std::vector<int64_t>>(static_cast<size_t>(rows)), std::vector<double>(static_cast<size_t>(size))};
    for (int64_t e = 0; e < v.events; ++e) p.events_of_row[static_cast<size_t>(row_of[static_cast<size_t>(e)])].push_back(e);
    for (auto& events : p.events_of_row) positions = std::max(positions, static_cast<int64_t>(events.size()));
    std::fill_n(data.begin() + v.data_offset, size, 0.0);  // nothing drawn yet
    self.push_back(std::move(p));
  }
  std::vector<double> drawn(static_cast<size_t>(s.steps[kDraw].program.out_size));
  std::vector<double> means(static_cast<size_t>(s.steps[kDecoder].program.out_size));
  for (int64_t position = 0; position < positions; ++position) {
    run(s, kDraw, theta.data(), data.data(), drawn);
    run(s, kDecoder, theta.data(), data.data(), means);
    for (Progress& p : self) {
      const GeneratedVariable& v = *p.v;
      for (const auto& events : p.events_of_row) {
        if (position >= static_cast<int64_t>(events.size())) continue;
        for (int64_t j = 0; j < v.event_size; ++j) {
          int64_t at = events[static_cast<size_t>(position)] + v.events * j;
          data[static_cast<size_t>(v.data_offset + at)] = drawn[static_cast<size_t>(v.out_offset + at)];
          p.means[static_cast<size_t>(at)] = means[static_cast<size_t>(v.out_offset + at)];
        }
      }
    }
  }
  // The other variables are drawn given the finished ones; then the check.
  run(s, kDraw, theta.data(), data.data(), drawn);
  run(s, kDecoder, theta.data(), data.data(), means);
  for (const Progress& p : self) {
    const GeneratedVariable& v = *p.v;
    const int64_t size = product(v.stan_dims);
    for (int64_t at = 0; at < size; ++at) {
      double now = means[static_cast<size_t>(v.out_offset + at)], then = p.means[static_cast<size_t>(at)];
      if (now == then || (std::isnan(now) && std::isnan(then))) continue;
      throw UserError(model_path() + ": sample: '" + v.name + "' feeds its own distribution, and the distribution of "
                      "one of its outcomes depends on that outcome or on later ones: it can be drawn outcome by "
                      "outcome only when each one's distribution reads earlier ones alone (an autoregressive model "
                      "in index order)\n");
    }
    std::copy_n(data.begin() + v.data_offset, size, drawn.begin() + v.out_offset);
  }
  return drawn;
}

// ---- the three ways to generate -----------------------------------------------

namespace {

void append(Generated& into, const Generated& part, int64_t take) {
  if (into.fields.empty()) {
    into.fields = part.fields;
    into.values.resize(part.values.size());
  }
  for (size_t f = 0; f < part.values.size(); ++f) {
    const int64_t n = part.fields[f].row_size();
    into.values[f].insert(into.values[f].end(), part.values[f].begin(), part.values[f].begin() + take * n);
  }
  into.rows += take;
}

}  // namespace

Generated Generator::prior(int64_t n, uint64_t seed, Globals globals, int64_t batch) {
  if (n < 1) throw UserError("sample: the number of rows to generate must be positive\n");
  const int64_t B = plate_.empty() ? 1 : std::min(n, std::max<int64_t>(batch, 1));
  Generated out;
  std::mt19937_64 seeds(seed);
  for (int64_t done = 0; done < n; done += B) {
    std::vector<double> theta = prior_theta(B, seeds(), globals);
    append(out, decode(theta, B), std::min(B, n - done));
  }
  return out;
}

Generated Generator::reconstruct(const std::vector<DataRow>& rows, int64_t batch) {
  if (rows.empty()) throw UserError("sample: no rows to reconstruct\n");
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t B = std::min(n, std::max<int64_t>(batch, 1));
  Generated out;
  for (int64_t done = 0; done < n; done += B) {
    std::vector<DataRow> chunk;
    for (int64_t i = 0; i < B; ++i) chunk.push_back(rows[static_cast<size_t>(std::min(done + i, n - 1))]);
    append(out, decode(encode(chunk), B), std::min(B, n - done));
  }
  return out;
}

Generated Generator::interpolate(const DataRow& a, const DataRow& b, int64_t steps) {
  if (steps < 2) throw UserError("sample: an interpolation needs at least 2 steps\n");
  std::vector<DataRow> rows(static_cast<size_t>(steps), b);
  rows[0] = a;
  std::vector<double> theta = encode(rows);
  Stage& s = stage(steps);
  std::set<std::string> guided;
  for (const GuideDraw& d : s.lowered.guide) guided.insert(d.parameter);
  for (const ParameterInfo& par : s.lowered.parameters) {
    if (!par.plate || !guided.count(par.name)) continue;
    double* at = theta.data() + par.unconstrained_offset;
    std::vector<double> rm = to_row_major(at, par.stan_dims, par.is_matrix);
    const int64_t row = product(par.stan_dims, 1);
    std::vector<double> za(rm.begin(), rm.begin() + row), zb(rm.begin() + row, rm.begin() + 2 * row);
    for (int64_t i = 0; i < steps; ++i) {
      const double t = static_cast<double>(i) / static_cast<double>(steps - 1);
      for (int64_t k = 0; k < row; ++k) rm[static_cast<size_t>(i * row + k)] = (1 - t) * za[k] + t * zb[k];
    }
    std::vector<double> stored = to_storage_order(rm, par.stan_dims, par.is_matrix);
    std::copy(stored.begin(), stored.end(), at);
  }
  return decode(theta, steps);
}

}  // namespace latent
