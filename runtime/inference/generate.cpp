#include "runtime/inference/generate.hpp"

#include "codegen/codegen.hpp"
#include "codegen/eval_context.hpp"
#include "codegen/jit.hpp"
#include "frontend/source.hpp"
#include "ir/substitute.hpp"
#include "runtime/data/check_data.hpp"
#include "runtime/model/plate.hpp"
#include "runtime/output/atomic_file.hpp"
#include "runtime/output/csv.hpp"
#include "runtime/output/png_grid.hpp"
#include "runtime/output/svi_fit.hpp"

#include <llvm/IR/Module.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <unordered_map>

namespace latent {

using ir::NodeP;
using ir::Op;

namespace {

enum Function { kPrior = 0, kEncoder = 1, kDecoder = 2 };

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

std::vector<double> Generated::row(size_t field, int64_t r) const {
  const int64_t n = fields.at(field).row_size();
  auto begin = values.at(field).begin() + r * n;
  return std::vector<double>(begin, begin + n);
}

// The program lowered for R rows and the functions compiled from it.
struct Generator::Stage {
  int64_t rows = 0;
  LoweredProgram lowered;
  struct Field {
    DeclaredShape shape;  // Stan dims with the plate at R (the whole variable without a plate)
    NodeP mean = nullptr; // flat, in storage order
    int64_t out_offset = 0;
  };
  std::vector<Field> fields;
  std::map<int64_t, size_t> parameter_at;  // unconstrained offset -> index in lowered.parameters
  codegen::KernelFn fn[3] = {nullptr, nullptr, nullptr};
  Globals prior_globals = Globals::Default;  // what fn[kPrior] draws
  int64_t workspace = 0, noise_size = 0;
  std::vector<std::pair<int64_t, int64_t>> written[2];  // theta ranges set by the prior / encoder
  std::vector<double> work;

  // The parameter whose unconstrained range holds the Input(0) leaf `leaf`.
  const ParameterInfo& parameter_of(NodeP leaf) const {
    auto it = parameter_at.upper_bound(leaf->b);
    if (it == parameter_at.begin()) throw std::logic_error("sample: parameter leaf outside every parameter");
    return lowered.parameters.at(std::prev(it)->second);
  }
  // Indices of the parameters read by `roots`.
  std::set<size_t> parameters_read(const std::vector<NodeP>& roots) const {
    std::set<size_t> out;
    for (NodeP n : ir::topological_order(roots))
      if (n->op == Op::Input && n->a == 0) out.insert(std::prev(parameter_at.upper_bound(n->b))->second);
    return out;
  }
};

namespace {

// The mean of `t`'s distribution, flat with `size` elements (storage order).
NodeP mean_of(ir::Graph& g, const Term& t, int64_t size, const std::string& model) {
  auto arg = [&](size_t i) {
    NodeP a = g.cast_real(t.distribution_args.at(i));
    if (a->is_scalar()) return a;
    if (a->size() != size)
      throw UserError(t.location + ": sample: the arguments of " + t.distribution + " for '" + t.observed +
                      "' have " + std::to_string(a->size()) + " values, '" + t.observed + "' has " +
                      std::to_string(size) + "\n");
    return g.reshape(a, {size});
  };
  const std::string& d = t.distribution;
  NodeP m = nullptr;
  if (d == "normal" || d == "cauchy" || d == "bernoulli" || d == "poisson") {
    m = arg(0);  // the location (the median for cauchy, whose mean does not exist)
  } else if (d == "student_t") {
    m = arg(1);  // student_t(nu, mu, sigma)
  } else if (d == "std_normal") {
    m = g.constant(0);
  } else if (d == "bernoulli_logit") {
    m = g.unary(Op::InvLogit, arg(0));
  } else if (d == "poisson_log") {
    m = g.unary(Op::Exp, arg(0));
  } else if (d == "lognormal") {
    NodeP s = arg(1);
    m = g.unary(Op::Exp, g.add(arg(0), g.mul(g.constant(0.5), g.mul(s, s))));
  } else if (d == "exponential") {
    m = g.div(g.constant(1), arg(0));
  } else if (d == "gamma") {
    m = g.div(arg(0), arg(1));
  } else if (d == "inv_gamma") {  // b / (a - 1), infinite for a <= 1
    NodeP a = arg(0);
    m = g.select(g.binary(Op::Gt, a, g.constant(1)), g.div(arg(1), g.sub(a, g.constant(1))), g.constant(INFINITY));
  } else if (d == "beta") {
    NodeP a = arg(0);
    m = g.div(a, g.add(a, arg(1)));
  } else if (d == "uniform") {
    m = g.mul(g.constant(0.5), g.add(arg(0), arg(1)));
  } else if (d == "binomial") {
    m = g.mul(arg(0), arg(1));
  } else if (d == "binomial_logit") {
    m = g.mul(arg(0), g.unary(Op::InvLogit, arg(1)));
  } else {
    throw UserError(t.location + ": sample: cannot generate '" + t.observed + "': the mean of its distribution '" + d +
                    "' is not known to sample (" + model + ")\n");
  }
  return m->is_scalar() ? g.fill(m, {size}) : m;
}

// The one whole-parameter normal prior of `name` (null when there is none).
const Term* normal_prior(const LoweredProgram& p, const std::string& name, const std::string& model) {
  const Term* found = nullptr;
  for (const Term& t : p.terms) {
    if (t.gaussian_prior_of != name) continue;
    if (found)
      throw UserError(model + ": sample: parameter '" + name + "' has more than one normal prior statement (" +
                      found->location + " and " + t.location + "); give it one to draw from\n");
    found = &t;
  }
  return found;
}

std::string constraint_text(const ConstraintSpec& c) {
  switch (c.kind) {
    case ConstraintSpec::Kind::Lower: return "<lower=...>";
    case ConstraintSpec::Kind::Upper: return "<upper=...>";
    case ConstraintSpec::Kind::LowerUpper: return "<lower=..., upper=...>";
    case ConstraintSpec::Kind::Simplex: return "simplex";
    default: return "constrained";
  }
}

// `roots` with the Input(0) leaves of the parameters in `defs` (unconstrained
// offset -> (size, value of the unconstrained coordinates)) replaced by their
// definitions, repeatedly, until none is left. Other Input(0) leaves stay.
std::vector<NodeP> substitute_defs(ir::Graph& g, std::vector<NodeP> roots,
                           const std::map<int64_t, std::pair<int64_t, NodeP>>& defs,
                           const std::function<std::string(int64_t)>& name_at, const std::string& what) {
  auto def_of = [&](NodeP leaf) -> const std::pair<const int64_t, std::pair<int64_t, NodeP>>* {
    if (leaf->op != Op::Input || leaf->a != 0) return nullptr;
    auto it = defs.upper_bound(leaf->b);
    if (it == defs.begin()) return nullptr;
    --it;
    if (leaf->b >= it->first + it->second.first) return nullptr;
    return &*it;
  };
  for (size_t round = 0; round <= defs.size() + 1; ++round) {
    std::unordered_map<NodeP, NodeP> replace;
    for (NodeP leaf : ir::topological_order(roots)) {
      auto* d = def_of(leaf);
      if (!d) continue;
      auto [size, value] = d->second;
      int64_t leaf_size = leaf->is_scalar() ? 1 : leaf->size();
      if (d->first == leaf->b && leaf_size == size && !leaf->is_scalar()) {
        replace[leaf] = value->is_scalar() ? g.fill(value, leaf->dims) : g.reshape(value, leaf->dims);
        continue;
      }
      NodeP flat = value->is_scalar() ? g.reshape(value, {1}) : g.reshape(value, {value->size()});
      NodeP part = g.slice(flat, 0, g.int_constant(leaf->b - d->first), leaf_size);
      replace[leaf] = leaf->is_scalar() ? g.index(part, 0, g.int_constant(0)) : g.reshape(part, leaf->dims);
    }
    if (replace.empty()) return roots;
    if (round == defs.size() + 1) {
      std::set<std::string> names;
      for (auto& [leaf, _] : replace) names.insert(name_at(leaf->b));
      std::string list;
      for (auto& n : names) list += (list.empty() ? "'" : ", '") + n + "'";
      throw UserError("sample: the " + what + " of " + list + " depend on each other in a cycle\n");
    }
    for (NodeP& r : roots) r = ir::substitute(g, r, replace);
  }
  return roots;
}

}  // namespace

// ---- construction ---------------------------------------------------------

Generator::Generator(std::shared_ptr<const ast::Program> program, std::shared_ptr<const DataSource> data)
    : program_(std::move(program)), data_(std::move(data)) {
  PlateInfo plate = plate_of(*program_);
  plate_ = plate.name;
  plate_fields_ = plate.fields;
  if (!plate_.empty()) rows_ = plate_rows(plate, *data_);
  // The layout of phi, as the fit file records it (SviModel::reference(): one row).
  Stage& one = stage(1);
  layout_ = std::make_unique<SviModel::Compiled>();
  layout_->rows = 1;
  {
    std::vector<int64_t> first(plate_.empty() ? 0 : 1, 0);
    DataSet view = data_->view(plate_fields_, first);
    if (!plate_.empty()) view.set(plate_, DataValue{{}, {1.0}, true});
    layout_->lowered = lower_program(*program_, view, {.keep_constants = true});
    layout_->objective = build_svi_objective(layout_->lowered, {});
  }
  for (const Stage::Field& f : one.fields) {
    GeneratedField gf;
    gf.name = f.shape.name;
    gf.is_matrix = f.shape.is_matrix_last2;
    gf.row_dims = f.shape.dims;
    if (!plate_.empty()) gf.row_dims.erase(gf.row_dims.begin());
    for (const Term& t : one.lowered.terms)
      if (t.observed == gf.name) gf.distribution = t.distribution;
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
  DataSet view = data_->view(plate_fields_, first);
  if (!plate_.empty()) view.set(plate_, DataValue{{}, {static_cast<double>(rows)}, true});
  s->lowered = lower_program(*program_, view, {.keep_constants = true});
  const LoweredProgram& p = s->lowered;
  for (size_t i = 0; i < p.parameters.size(); ++i) s->parameter_at[p.parameters[i].unconstrained_offset] = i;

  // The generated fields: observed data variables (indexed by the plate, when there is one).
  ir::Graph& g = *s->lowered.graph;
  std::set<std::string> seen;
  int64_t offset = 0;
  for (const Term& t : p.terms) {
    if (t.observed.empty()) continue;
    Stage::Field f;
    if (!plate_.empty()) {
      auto it = std::find_if(p.plate_fields.begin(), p.plate_fields.end(),
                             [&](const PlateField& pf) { return pf.shape.name == t.observed; });
      if (it == p.plate_fields.end()) continue;  // a global observation: not generated per row
      f.shape = it->shape;
    } else {
      f.shape.name = t.observed;
      f.shape.dims = data_->dims(t.observed);
      const ast::Block* data = program_->find(ast::BlockKind::Data);
      for (const auto& st : data->stmts)
        if (st->kind == ast::StmtKind::Decl && st->decl->name == t.observed)
          f.shape.is_matrix_last2 = st->decl->type.base == Base::Matrix;
    }
    if (!seen.insert(t.observed).second)
      throw UserError(t.location + ": sample: '" + t.observed + "' is observed by more than one statement\n");
    const int64_t size = product(f.shape.dims);
    f.mean = mean_of(g, t, size, model_path());
    f.out_offset = offset;
    offset += size;
    s->fields.push_back(f);
  }
  if (s->fields.empty())
    throw UserError(model_path() + ": sample: the model has nothing to generate: no statement `y ~ dist(...)` on a " +
                    (plate_.empty() ? std::string("whole data variable")
                                    : "whole data variable indexed by the plate '" + plate_ + "'") +
                    " in the model block\n");
  slot = std::move(s);
  return *slot;
}

const LoweredProgram& Generator::lowered(int64_t rows) { return stage(rows).lowered; }

Globals Generator::effective(Globals g) const {
  if (g != Globals::Default) return g;
  return plate_.empty() ? Globals::Prior : Globals::Fit;
}

bool Generator::draws(const ParameterInfo& p, Globals globals) const {
  return p.plate || effective(globals) == Globals::Prior;
}

// ---- compiling --------------------------------------------------------------

void Generator::compile(Stage& s, int which, Globals globals) {
  if (s.fn[which] && (which != kPrior || s.prior_globals == globals)) return;
  LoweredProgram& p = s.lowered;
  ir::Graph& g = *p.graph;
  const std::string& model = model_path();
  auto name_at = [&](int64_t offset) {
    return p.parameters.at(std::prev(s.parameter_at.upper_bound(offset))->second).name;
  };
  codegen::FunctionSpec spec;
  spec.out_size = p.num_unconstrained;
  if (which == kDecoder) {
    spec.name = "latent_sample_decoder";
    int64_t size = 0;
    for (const Stage::Field& f : s.fields) {
      spec.outputs.push_back({f.mean, f.out_offset});
      size = f.out_offset + f.mean->size();
    }
    spec.out_size = size;
  } else if (which == kEncoder) {
    spec.name = "latent_sample_encoder";
    std::map<int64_t, std::pair<int64_t, NodeP>> defs;
    std::vector<NodeP> roots;
    std::vector<const ParameterInfo*> targets;
    for (const GuideDraw& d : p.guide) {
      for (const ParameterInfo& par : p.parameters) {
        if (par.name != d.parameter) continue;
        defs[par.unconstrained_offset] = {par.unconstrained_size, d.loc};
        roots.push_back(d.loc);
        targets.push_back(&par);
      }
    }
    roots = substitute_defs(g, roots, defs, name_at, "guide's means");
    s.written[kEncoder].clear();
    for (size_t i = 0; i < roots.size(); ++i) {
      const ParameterInfo& par = *targets[i];
      spec.outputs.push_back({g.reshape(roots[i], {par.unconstrained_size}), par.unconstrained_offset});
      s.written[kEncoder].push_back({par.unconstrained_offset, par.unconstrained_size});
    }
  } else {
    spec.name = "latent_sample_prior";
    // The parameters the generated means need, and (for drawn ones) those their priors need.
    std::vector<NodeP> means;
    for (const Stage::Field& f : s.fields) means.push_back(f.mean);
    std::set<size_t> todo = s.parameters_read(means), done;
    std::map<int64_t, std::pair<int64_t, NodeP>> defs;
    std::vector<size_t> drawn;
    s.noise_size = 0;
    while (!todo.empty()) {
      size_t i = *todo.begin();
      todo.erase(todo.begin());
      if (!done.insert(i).second) continue;
      const ParameterInfo& par = p.parameters[i];
      if (!draws(par, globals)) continue;  // at its fitted value
      const Term* prior = normal_prior(p, par.name, model);
      if (!prior)
        throw UserError(model + ": sample: parameter '" + par.name + "' has no normal prior to draw from (a statement `" +
                        par.name + " ~ normal(loc, scale)`, `" + par.name + " ~ std_normal()` or `to_vector(" +
                        par.name + ") ~ ...` in the model block)\n");
      if (par.constraint.kind != ConstraintSpec::Kind::None &&
          par.constraint.kind != ConstraintSpec::Kind::OffsetMultiplier)
        throw UserError(prior->location + ": sample: parameter '" + par.name + "' is " +
                        constraint_text(par.constraint) + "; sample draws only unconstrained parameters (or "
                        "<offset, multiplier>) from their normal priors\n");
      const std::vector<int64_t>& dims = par.value->dims;
      NodeP eps = g.input(2, s.noise_size, dims);
      s.noise_size += par.value->is_scalar() ? 1 : par.value->size();
      NodeP z = g.add(prior->prior_loc, g.mul(prior->prior_scale, eps));
      if (par.constraint.kind == ConstraintSpec::Kind::OffsetMultiplier) {
        NodeP off = par.constraint.offset ? par.constraint.offset : g.constant(0);
        NodeP mul = par.constraint.multiplier ? par.constraint.multiplier : g.constant(1);
        z = g.div(g.sub(z, off), mul);
      }
      defs[par.unconstrained_offset] = {par.unconstrained_size, z};
      drawn.push_back(i);
      for (size_t j : s.parameters_read({prior->prior_loc, prior->prior_scale})) todo.insert(j);
    }
    std::vector<NodeP> roots;
    for (size_t i : drawn) roots.push_back(defs.at(p.parameters[i].unconstrained_offset).second);
    roots = substitute_defs(g, roots, defs, name_at, "priors");
    s.written[kPrior].clear();
    for (size_t k = 0; k < drawn.size(); ++k) {
      const ParameterInfo& par = p.parameters[drawn[k]];
      NodeP r = roots[k]->is_scalar() && par.unconstrained_size != 1 ? g.fill(roots[k], {par.unconstrained_size})
                                                                      : g.reshape(roots[k], {par.unconstrained_size});
      spec.outputs.push_back({r, par.unconstrained_offset});
      s.written[kPrior].push_back({par.unconstrained_offset, par.unconstrained_size});
    }
    s.prior_globals = globals;
  }
  codegen::ModuleBuilder mb = codegen::new_module(spec.name);
  auto emitted = codegen::emit_functions(g, {spec}, *mb.module);
  codegen::CompiledModule m = codegen::compile_module(std::move(mb), {spec.name});
  s.fn[which] = reinterpret_cast<codegen::KernelFn>(m.functions.at(0));
  s.workspace = std::max(s.workspace, emitted.at(0).workspace_doubles);
}

void Generator::run(const Stage& s, int which, const double* theta, const double* data, const double* noise,
                    std::vector<double>& out) const {
  if (!phi_set_ && layout_->num_phi() > 0)
    throw UserError("sample: no fit: read one with read_fit or set phi (" + model_path() + ")\n");
  Stage& st = const_cast<Stage&>(s);
  if (st.work.size() < static_cast<size_t>(s.workspace) + 8) st.work.resize(static_cast<size_t>(s.workspace) + 8);
  const double* model_net = phi_.data();
  const double* guide_net = phi_.data() + std::min<int64_t>(layout_->objective.layout.guide_network_offset,
                                                            static_cast<int64_t>(phi_.size()));
  const double* inputs[] = {theta, data, noise, model_net, guide_net};
  EvalContext ctx;
  ctx.graph = s.lowered.graph.get();
  s.fn[which](inputs, out.data(), st.work.data(), &ctx);
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
  run(s, kEncoder, theta.data(), data.data(), nullptr, out);
  for (auto [offset, size] : s.written[kEncoder])
    std::copy_n(out.begin() + offset, size, theta.begin() + offset);
  return theta;
}

std::vector<double> Generator::encode(const std::vector<DataRow>& rows) {
  if (plate_.empty())
    throw UserError(model_path() + ": sample: the model has no plate (int<plate> N), so no data point to encode\n");
  Stage& s = stage(static_cast<int64_t>(rows.size()));
  // Every plate parameter the decoder reads needs the guide's distribution.
  std::vector<NodeP> means;
  for (const Stage::Field& f : s.fields) means.push_back(f.mean);
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
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> noise(static_cast<size_t>(s.noise_size) + 1);
  for (double& e : noise) e = normal(rng);
  std::vector<double> out(static_cast<size_t>(s.lowered.num_unconstrained));
  run(s, kPrior, theta.data(), s.lowered.data.data(), noise.data(), out);
  for (auto [offset, size] : s.written[kPrior]) std::copy_n(out.begin() + offset, size, theta.begin() + offset);
  return theta;
}

Generated Generator::decode(const std::vector<double>& theta, int64_t rows) {
  Stage& s = stage(rows);
  if (static_cast<int64_t>(theta.size()) != s.lowered.num_unconstrained)
    throw std::invalid_argument("Generator::decode: theta has " + std::to_string(theta.size()) + " values, not " +
                                std::to_string(s.lowered.num_unconstrained));
  compile(s, kDecoder, Globals::Default);
  int64_t size = 0;
  for (const Stage::Field& f : s.fields) size = f.out_offset + product(f.shape.dims);
  std::vector<double> out(static_cast<size_t>(size));
  run(s, kDecoder, theta.data(), s.lowered.data.data(), nullptr, out);
  Generated g;
  g.rows = s.rows;
  g.fields = fields_;
  for (const Stage::Field& f : s.fields) g.values.push_back(to_row_major(out.data() + f.out_offset, f.shape.dims,
                                                                         f.shape.is_matrix_last2));
  return g;
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

// ---- the command line's pieces ---------------------------------------------------

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

}  // namespace latent
