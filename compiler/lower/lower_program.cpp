// Lowering a whole program, block by block, with its data bound.
#include "compiler/lower/ancestral.hpp"
#include "compiler/lower/lowered_program.hpp"
#include "compiler/lower/lowerer.hpp"
#include "stdlib/linear_algebra.hpp"
#include "data/check_data.hpp"

#include <cmath>
#include <map>
#include <tuple>
#include <sstream>

namespace latent {

// The random stream of transformed data's `_rng` calls (others use streams 0, 1, ...).
constexpr uint64_t kTransformedDataStream = uint64_t{1} << 63;

using ir::NodeP;
using ir::Op;

ir::NodeP LoweredProgram::log_density(bool jacobian) const {
  // Statements of one loop are separate terms (for diagnostics); their loops are
  // merged here so that the density makes one pass over the data per loop.
  ir::Graph& g = *graph;
  std::vector<NodeP> parts;
  std::map<std::tuple<int64_t, NodeP, NodeP>, size_t> loops;  // (loop id, lo, hi) -> index in parts
  for (const Term& t : terms) {
    if (!jacobian && t.jacobian) continue;
    NodeP v = t.value;
    if (v->op == Op::LoopSum && v->is_scalar()) {
      auto key = std::make_tuple(v->a, v->args[0], v->args[1]);
      auto found = loops.find(key);
      if (found != loops.end()) {
        NodeP& merged = parts[found->second];
        merged = g.loop_sum(g.loop_var(static_cast<int>(v->a)), v->args[0], v->args[1],
                            g.add(merged->args[2], v->args[2]));
        continue;
      }
      loops[key] = parts.size();
    }
    parts.push_back(v);
  }
  return g.add_all(parts);
}

namespace {

class ProgramLowering {
 public:
  ProgramLowering(const ast::Program& program, const DataSet& data, const LowerOptions& options)
      : program_(program), data_(data), options_(options), lowerer_(*out_.graph, *program.source, out_.data) {
    out_.source = program.source;
    lowerer_.keep_constants(options.keep_constants);
  }

  LoweredProgram run() {
    lowerer_.push_scope();
    if (auto* b = program_.find(ast::BlockKind::Data)) data_block(*b);
    if (auto* b = program_.find(ast::BlockKind::TransformedData)) transformed_data(*b);
    if (auto* b = program_.find(ast::BlockKind::Network)) network(*b, 3);
    if (auto* b = program_.find(ast::BlockKind::Parameters)) parameters(*b);
    if (auto* b = program_.find(ast::BlockKind::TransformedParameters))
      out_.transformed_parameters = declaring_block(*b, "transformed parameters", true);
    if (auto* b = program_.find(ast::BlockKind::Model)) {
      lowerer_.push_scope();
      lowerer_.statements(b->stmts);
      lowerer_.pop_scope();
    }
    std::vector<Term> model_terms = lowerer_.take_terms();
    out_.terms.insert(out_.terms.end(), model_terms.begin(), model_terms.end());
    if (auto* b = program_.find(ast::BlockKind::Model); b && options_.ancestral) ancestral(*b);
    if (auto* b = program_.find(ast::BlockKind::Guide)) guide(*b);
    if (auto* b = program_.find(ast::BlockKind::GeneratedQuantities)) {
      out_.generated_quantities = declaring_block(*b, "generated quantities", false);
      for (auto& t : lowerer_.take_terms()) out_.generated_checks.push_back(t.value);
    }
    out_.data_checks = lowerer_.data_checks();
    return std::move(out_);
  }

 private:
  static const ast::VarDecl* decl_of(const ast::Stmt& s) {
    return s.kind == ast::StmtKind::Decl ? s.decl.get() : nullptr;
  }

  std::optional<double> const_bound(const ast::ExprPtr& e) {
    if (!e) return std::nullopt;
    auto v = lowerer_.expr(*e);
    if (!v.node->is_const()) return std::nullopt;
    return v.node->value;
  }

  // Whether a declaration's first dimension is the plate.
  bool plate_indexed(const ast::VarDecl& d) const {
    const auto& sizes = d.array_sizes.empty() ? d.sizes : d.array_sizes;
    return !out_.plate.empty() && !sizes.empty() && sizes[0]->kind == ast::ExprKind::Var &&
           sizes[0]->name == out_.plate;
  }

  // `array[T] matrix[N, K] z` (or vector[N]): an array of per-datum values. Its
  // first IR axis is the plate, as a matrix[N, K]'s (arrays are the slowest axes),
  // so that element i belongs to datum i mod N.
  bool plate_array(const ast::VarDecl& d) const {
    return !out_.plate.empty() && !d.array_sizes.empty() && !d.sizes.empty() &&
           (d.type.base == Base::Matrix || d.type.base == Base::Vector) && d.sizes[0]->kind == ast::ExprKind::Var &&
           d.sizes[0]->name == out_.plate;
  }

  void data_block(const ast::Block& block) {
    // One allocation for all the data read (10^6 values are 8 MB: growing the
    // buffer by doubling would copy them again).
    size_t values_read = 0;
    for (const std::string& name : data_.names()) values_read += data_.find(name)->values.size();
    out_.data.reserve(out_.data.size() + values_read);
    for (auto& s : block.stmts) {
      const ast::VarDecl* d = decl_of(*s);
      if (!d) continue;
      if (d->plate) out_.plate = d->name;
      std::vector<int64_t> stan_dims, dims;
      lowerer_.declared_dims(*d, &stan_dims, &dims);
      DeclaredShape shape;
      shape.name = d->name;
      shape.is_int = d->type.base == Base::Int;
      shape.dims = stan_dims;
      shape.is_matrix_last2 = d->type.base == Base::Matrix;
      shape.lower = const_bound(d->constraint.lower);
      shape.upper = const_bound(d->constraint.upper);
      shape.declared_as = declaration_text(*d, stan_dims);
      if (d->base == ast::BaseType::Simplex) shape.structure = DeclaredShape::Structure::Simplex;
      if (d->base == ast::BaseType::CholeskyFactorCorr) shape.structure = DeclaredShape::Structure::CholeskyFactorCorr;
      if (d->base == ast::BaseType::Ordered) shape.structure = DeclaredShape::Structure::Ordered;
      if (d->base == ast::BaseType::PositiveOrdered) shape.structure = DeclaredShape::Structure::PositiveOrdered;
      if (d->base == ast::BaseType::UnitVector) shape.structure = DeclaredShape::Structure::UnitVector;
      if (d->base == ast::BaseType::SumToZeroVector) shape.structure = DeclaredShape::Structure::SumToZero;
      std::vector<double> values = check_and_flatten(data_, shape);
      check_container_bounds(*d, values);
      check_matrix_data(*d, values, "data");
      if (d->plate) out_.plate_size = static_cast<int64_t>(values.at(0));
      if (plate_indexed(*d)) out_.plate_fields.push_back({shape, static_cast<int64_t>(out_.data.size())});
      bind_data(d->name, d->type, dims, values, "data");
    }
  }

  // Container bounds (`vector<lower=L>[N] y` with L a vector of data), element by element.
  void check_container_bounds(const ast::VarDecl& d, const std::vector<double>& values) {
    auto check = [&](const ast::ExprPtr& e, bool lower) {
      if (!e) return;
      NodeP b = lowerer_.expr(*e).node;
      if (b->is_scalar()) return;  // checked with the field
      if (b->op != Op::Input || b->a != 1 || b->size() != static_cast<int64_t>(values.size()))
        lowerer_.error(e->loc, "the bound of data variable '" + d.name + "' must be data of the same size");
      for (size_t i = 0; i < values.size(); ++i) {
        double bound = out_.data.at(static_cast<size_t>(b->b) + i);
        if (lower ? values[i] >= bound : values[i] <= bound) continue;
        std::ostringstream msg;
        msg << data_.source() << ": field '" << d.name << "': value " << values[i] << " at element " << i + 1
            << " is " << (lower ? "below its lower" : "above its upper") << " bound " << bound;
        throw UserError(msg.str() + "\n");
      }
    };
    check(d.constraint.lower, true);
    check(d.constraint.upper, false);
  }

  // "vector[2] y", "array[3] int k": the declaration with its sizes evaluated.
  static std::string declaration_text(const ast::VarDecl& d, const std::vector<int64_t>& stan_dims) {
    auto list = [](auto begin, auto end) {
      std::string s;
      for (auto it = begin; it != end; ++it) s += (it == begin ? "" : ", ") + std::to_string(*it);
      return s;
    };
    size_t k = d.array_sizes.size();
    std::string base = Type{d.type.base, 0}.str();
    std::string text = k ? "array[" + list(stan_dims.begin(), stan_dims.begin() + static_cast<long>(k)) + "] " : "";
    text += base;
    if (stan_dims.size() > k) text += "[" + list(stan_dims.begin() + static_cast<long>(k), stan_dims.end()) + "]";
    return text + " " + d.name;
  }

  void bind_data(const std::string& name, const Type& type, const std::vector<int64_t>& dims,
                 const std::vector<double>& values, const std::string& block) {
    ir::Graph& g = *out_.graph;
    bool is_int = type.base == Base::Int;
    NodeP node;
    if (dims.empty()) {
      // Scalars of data are constants of the compiled code (sizes, bounds, loop counts).
      node = is_int ? g.int_constant(static_cast<int64_t>(values.at(0))) : g.constant(values.at(0));
    } else {
      node = g.input(1, static_cast<int64_t>(out_.data.size()), dims, is_int ? ir::DType::Int : ir::DType::Real);
      out_.data.insert(out_.data.end(), values.begin(), values.end());
    }
    lowerer_.define(name, {node, type}, true, block);
  }

  void transformed_data(const ast::Block& block) {
    std::vector<const ast::VarDecl*> decls;
    for (auto& s : block.stmts) {
      lowerer_.statement(*s);
      if (const ast::VarDecl* d = decl_of(*s)) decls.push_back(d);
    }
    // Compute every transformed data variable once, now, and bind it as data.
    std::vector<NodeP> nodes;
    for (auto* d : decls) nodes.push_back(lowerer_.find(d->name)->value.node);
    std::vector<NodeP> checks = std::exchange(lowerer_.data_checks(), {});
    for (auto& t : lowerer_.take_terms()) checks.push_back(t.value);
    std::vector<NodeP> outputs = nodes;
    outputs.push_back(out_.graph->add_all(checks));
    EvalContext ctx;
    ctx.messages = &out_.graph->messages();
    ctx.print_stream = options_.print_stream;
    RandomEngine rng = random_engine(options_.seed, kTransformedDataStream);
    ctx.rng = &rng;
    std::vector<const double*> inputs{nullptr, out_.data.data()};
    if (!options_.evaluate) throw std::logic_error("lower_program: transformed data needs an evaluator");
    std::vector<double> values = options_.evaluate(*out_.graph, outputs, inputs, ctx);
    if (ctx.failed) throw UserError(ctx.failure_text() + "\n");
    size_t at = 0;
    for (size_t k = 0; k < decls.size(); ++k) {
      const ast::VarDecl* d = decls[k];
      NodeP n = nodes[k];
      std::vector<double> v(values.begin() + static_cast<long>(at), values.begin() + static_cast<long>(at + n->size()));
      at += static_cast<size_t>(n->size());
      check_bounds(*d, v, "transformed data");
      check_matrix_data(*d, v, "transformed data");
      check_vector_data(*d, v);
      bind_data(d->name, d->type, n->dims, v, "transformed data");
    }
  }

  void check_bounds(const ast::VarDecl& d, const std::vector<double>& v, const std::string& block) {
    auto lo = const_bound(d.constraint.lower), hi = const_bound(d.constraint.upper);
    for (size_t i = 0; i < v.size(); ++i) {
      std::ostringstream msg;
      if (lo && !(v[i] >= *lo)) msg << "is below its lower bound " << *lo;
      if (hi && !(v[i] <= *hi)) msg << "is above its upper bound " << *hi;
      if (msg.str().empty()) continue;
      std::ostringstream full;
      full << block << " variable '" << d.name << "'";
      if (v.size() > 1) full << " element " << i + 1;
      full << " = " << v[i] << " " << msg.str();
      lowerer_.error(d.loc, full.str());
    }
  }

  void parameters(const ast::Block& block) {
    ir::Graph& g = *out_.graph;
    for (auto& s : block.stmts) {
      const ast::VarDecl* d = decl_of(*s);
      if (!d) continue;
      ParameterInfo p;
      p.name = d->name;
      p.type = d->type;
      std::vector<int64_t> dims;
      lowerer_.declared_dims(*d, &p.stan_dims, &dims);
      p.is_matrix = d->type.base == Base::Matrix;
      p.constraint = lowerer_.constraint(*d);
      p.plate = plate_indexed(*d) || plate_array(*d);
      p.plate_last_axis = plate_indexed(*d) && !d->array_sizes.empty();
      lowerer_.set_parameter_dims(p.name, dims);
      std::vector<int64_t> udims = dims;
      // The inverse transforms of the vector types work vector by vector (as the simplex's).
      if (p.constraint.kind == ConstraintSpec::Kind::Ordered || p.constraint.kind == ConstraintSpec::Kind::PositiveOrdered ||
          p.constraint.kind == ConstraintSpec::Kind::UnitVector)
        p.simplex_length = dims.at(0);
      if (p.constraint.kind == ConstraintSpec::Kind::SumToZero) {  // K - 1 free values per vector
        p.simplex_length = dims.at(0);
        udims[0] = p.simplex_length - 1;
      }
      if (p.constraint.kind == ConstraintSpec::Kind::Simplex) {
        p.simplex_length = dims.at(0);
        if (p.simplex_length < 1) lowerer_.error(d->loc, "a simplex needs at least one element");
        udims[0] = p.simplex_length - 1;
      }
      if (is_matrix_constraint(p.constraint)) {  // {free values of one matrix, array sizes...}
        udims.erase(udims.begin(), udims.begin() + 2);
        udims.insert(udims.begin(), matrix_free_size(p.constraint));
      }
      int64_t size = 1;
      for (auto x : dims) size *= x;
      p.unconstrained_offset = out_.num_unconstrained;
      p.unconstrained_size = unconstrained_size(p.constraint, size, p.simplex_length);
      out_.num_unconstrained += p.unconstrained_size;
      NodeP u = g.input(0, p.unconstrained_offset, udims);
      lowerer_.set_parameter_leaf(p.name, u);
      Constrained c = constrain(g, p.constraint, u, dims);
      p.value = c.value;
      lowerer_.define(p.name, {c.value, d->type}, true, "parameters");
      if (c.invalid)  // Stan rejects such a point: unit_vector_constrain's "norm must be positive finite"
        lowerer_.add_check(d->loc, c.invalid,
                           "parameter '" + p.name + "': the unconstrained values of a unit_vector must not all be 0 "
                           "(x = y / |y| is undefined; their sum of squares is shown)",
                           c.invalid_value, "sum of squares");
      if (!c.log_jacobian->is_const(0)) {
        std::string loc = lowerer_.location(d->loc);
        out_.terms.push_back({loc, "log-Jacobian of the constraint on '" + p.name + "'", c.log_jacobian, true, std::nullopt});
      }
      out_.parameters.push_back(std::move(p));
    }
  }

  // Layers and declared weights of a network block, as Input `buffer`. Dense
  // layers start like PyTorch's nn.Linear: uniform in +-1/sqrt(in).
  void network(const ast::Block& block, int buffer) {
    ir::Graph& g = *out_.graph;
    int64_t& size = out_.network_size[buffer - 3];
    auto tensor = [&](const std::string& name, std::vector<int64_t> dims, double bound) {
      NetworkTensor t{name, buffer, size, std::move(dims), bound};
      size += t.size();
      out_.network.push_back(t);
      return g.input(buffer, t.offset, t.dims);
    };
    for (const ast::LayerDecl& l : block.layers) {
      if (l.kind == "affine_coupling") {
        lowerer_.define_flow(l.name, {{affine_coupling(l, tensor)}});
        continue;
      }
      if (l.kind == "flow") {
        flows::Flow f;
        for (const ast::ExprPtr& a : l.args) {
          const flows::Flow* part = lowerer_.find_flow(a->name);  // the checker made it an invertible layer
          f.layers.insert(f.layers.end(), part->layers.begin(), part->layers.end());
          if (part->dim() != f.dim())
            lowerer_.error(a->loc, "layer '" + a->name + "' maps " + std::to_string(part->dim()) +
                                       " values, and the flow's first layer " + std::to_string(f.dim()));
        }
        lowerer_.define_flow(l.name, std::move(f));
        continue;
      }
      int64_t in = lowerer_.known_int(*l.args.at(0), "the input size of layer '" + l.name + "'");
      int64_t outs = lowerer_.known_int(*l.args.at(1), "the output size of layer '" + l.name + "'");
      if (in < 1 || outs < 1) lowerer_.error(l.loc, "layer '" + l.name + "' needs positive sizes");
      double bound = 1 / std::sqrt(static_cast<double>(in));
      NodeP w = tensor(l.name + ".weight", {in, outs}, bound);
      NodeP b = tensor(l.name + ".bias", {outs}, bound);
      if (l.args.size() == 3) w = g.mul(w, layer_mask(l, in, outs));
      lowerer_.define_layer(l.name, {w, b});
    }
    if (block.kind != ast::BlockKind::Network) return;  // the guide's statements are not weights
    for (auto& s : block.stmts) {
      const ast::VarDecl* d = decl_of(*s);
      if (!d) continue;
      std::vector<int64_t> stan_dims, dims;
      lowerer_.declared_dims(*d, &stan_dims, &dims);
      lowerer_.define(d->name, {tensor(d->name, dims, initial_half_width(*d, stan_dims)), d->type}, true, "network");
    }
  }

  // `affine_coupling name(D, H, keep)`: RealNVP's coupling (compiler/lower/flows.hpp),
  // its conditioner D -> H -> H -> (log-scale D, shift D), each layer nn.Linear's.
  template <class Tensor>
  flows::AffineCoupling affine_coupling(const ast::LayerDecl& l, Tensor& tensor) {
    ir::Graph& g = *out_.graph;
    int64_t dim = lowerer_.known_int(*l.args.at(0), "the size of layer '" + l.name + "'");
    int64_t hidden = lowerer_.known_int(*l.args.at(1), "the hidden size of layer '" + l.name + "'");
    if (dim < 1 || hidden < 1) lowerer_.error(l.loc, "layer '" + l.name + "' needs positive sizes");
    NodeP keep = g.cast_real(lowerer_.known_data(*l.args[2], "the mask of layer '" + l.name + "'"));
    if (keep->dims != std::vector<int64_t>{dim})
      lowerer_.error(l.args[2]->loc, "the mask of layer '" + l.name + "' has " +
                                         std::to_string(keep->is_scalar() ? 1 : keep->size()) +
                                         " elements; the layer maps " + std::to_string(dim));
    NodeP not_binary = g.binary(ir::Op::Ne, g.sum(g.unary(ir::Op::Abs, g.mul(keep, g.sub(g.constant(1), keep)))),
                                g.constant(0));
    lowerer_.add_check(l.args[2]->loc, not_binary, "the mask of layer '" + l.name + "' must hold only 0 and 1",
                       g.constant(0), "");
    auto dense = [&](const std::string& part, int64_t in, int64_t outs) {
      double bound = 1 / std::sqrt(static_cast<double>(in));
      return flows::Dense{tensor(l.name + "." + part + ".weight", {in, outs}, bound),
                          tensor(l.name + "." + part + ".bias", {outs}, bound)};
    };
    flows::AffineCoupling c{l.name, keep, dense("hidden1", dim, hidden), dense("hidden2", hidden, hidden),
                            dense("log_scale", hidden, dim), dense("shift", hidden, dim)};
    return c;
  }

  // `dense name(in, out, mask)`: the layer uses W .* mask (MADE's masked layers:
  // weights a unit may not read are 0 and stay 0, their gradient masked too). The
  // mask is data: a matrix[in, out], built in transformed data.
  NodeP layer_mask(const ast::LayerDecl& l, int64_t in, int64_t outs) {
    NodeP mask = lowerer_.known_data(*l.args[2], "the mask of layer '" + l.name + "'");
    auto size = [](int64_t rows, int64_t cols) { return std::to_string(rows) + " x " + std::to_string(cols); };
    // (the checker made it a matrix: two dims)
    if (mask->dims != std::vector<int64_t>{in, outs})
      lowerer_.error(l.args[2]->loc, "the mask of layer '" + l.name + "' is " + size(mask->dims[0], mask->dims[1]) +
                                         "; the layer's weight is " + size(in, outs));
    return out_.graph->cast_real(mask);
  }

  // A declared weight starts uniform in (-w, w): w = 1 by default (`init=uniform`);
  // `init=pytorch` is nn.Linear's 1/sqrt(fan_in), `init=glorot` Glorot and Bengio's
  // sqrt(6 / (fan_in + fan_out)), for a matrix[fan_in, fan_out] used as x * W (the
  // last two dims of an array of matrices); `init=zeros` starts at 0; a number is w.
  double initial_half_width(const ast::VarDecl& d, const std::vector<int64_t>& stan_dims) {
    if (d.init_scheme.empty() || d.init_scheme == "uniform") return 1;
    if (d.init_scheme == "zeros") return 0;
    if (d.init_scheme == "bound") {
      double w = lowerer_.known_real(*d.init_bound, "the initial half-width of '" + d.name + "'");
      if (!(w >= 0) || !std::isfinite(w)) {
        std::ostringstream shown;
        shown << w;
        lowerer_.error(d.init_bound->loc, "the initial half-width of '" + d.name + "' must be finite and >= 0, got " +
                                              shown.str());
      }
      return w;
    }
    if (d.base != ast::BaseType::Matrix || stan_dims.size() < 2)
      lowerer_.error(d.init_loc, "init=" + d.init_scheme + " needs a matrix (its rows are the fan-in, its columns the "
                                 "fan-out); give '" + d.name + "' init=zeros, init=uniform or a number");
    auto fan_in = static_cast<double>(stan_dims[stan_dims.size() - 2]), fan_out = static_cast<double>(stan_dims.back());
    if (fan_in == 0) return 0;  // an empty matrix: nothing to draw
    return d.init_scheme == "pytorch" ? 1 / std::sqrt(fan_in) : std::sqrt(6 / (fan_in + fan_out));
  }

  // The model block as a simulation: `~` on an element of a parameter (z[t])
  // draws it, loops run iteration by iteration; the parameters' values after it
  // are their ancestral draws. Its terms are dropped, and the parameters restored.
  void ancestral(const ast::Block& block) {
    std::map<std::string, Lowerer::Value> before;
    for (const ParameterInfo& p : out_.parameters) before[p.name] = lowerer_.find(p.name)->value;
    lowerer_.simulate(true);
    lowerer_.push_scope();
    lowerer_.statements(block.stmts);
    lowerer_.pop_scope();
    lowerer_.simulate(false);
    lowerer_.take_terms();
    std::vector<SimulatedParameter> simulated;
    for (const ParameterInfo& p : out_.parameters) {
      Lowerer::Var* v = lowerer_.find(p.name);
      bool unconstrained = p.value->op == ir::Op::Input && p.value->a == 0;
      if (v->value.node != before[p.name].node) simulated.push_back({p.name, unconstrained ? p.value : nullptr, v->value.node});
      v->value = before[p.name];
    }
    out_.ancestral = resolve_ancestral(*out_.graph, simulated, lowerer_.take_simulated());
    for (const auto& [name, why] : lowerer_.simulation_gaps()) {
      AncestralDraw& a = out_.ancestral[name];
      if (!a.value) a.value = before[name].node;
      a.problem = why;  // a ~ on its elements that is not simulated: its draw would not be its prior's
    }
  }

  // The guide: its network (buffer 4), then its statements, whose `~` define q.
  void guide(const ast::Block& block) {
    out_.has_guide = true;
    network(block, 4);
    // Drawing z[t] in the guide makes later guide statements read its draw; the
    // generated quantities after the guide read the parameters as they are.
    std::map<std::string, Lowerer::Value> parameters;
    for (const ParameterInfo& p : out_.parameters) parameters[p.name] = lowerer_.find(p.name)->value;
    lowerer_.push_scope();
    lowerer_.record_guide(&out_.guide);
    lowerer_.statements(block.stmts);
    lowerer_.record_guide(nullptr);
    lowerer_.pop_scope();
    for (auto& [name, value] : parameters) lowerer_.find(name)->value = value;
    for (auto& t : lowerer_.take_terms()) out_.guide_checks.push_back(t.value);
  }

  // Transformed parameters and generated quantities: statements, then the
  // declared variables' final values (with their constraints checked).
  std::vector<VariableInfo> declaring_block(const ast::Block& block, const std::string& name, bool keep_terms) {
    ir::Graph& g = *out_.graph;
    std::vector<const ast::VarDecl*> decls;
    for (auto& s : block.stmts) {
      lowerer_.statement(*s);
      if (const ast::VarDecl* d = decl_of(*s)) {
        decls.push_back(d);
        lowerer_.find(d->name)->block = name;  // declared like a local, but the block's variable
      }
    }
    std::vector<VariableInfo> vars;
    for (auto* d : decls) {
      VariableInfo v;
      v.name = d->name;
      v.type = d->type;
      v.value = lowerer_.find(d->name)->value.node;
      v.stan_dims = Lowerer::stan_dims_of(d->type, v.value->dims);
      v.is_matrix = d->type.base == Base::Matrix;
      v.plate = plate_indexed(*d);
      // Stan validates declared constraints at the end of the block.
      auto lo = d->constraint.lower ? lowerer_.expr(*d->constraint.lower).node : nullptr;
      auto hi = d->constraint.upper ? lowerer_.expr(*d->constraint.upper).node : nullptr;
      NodeP x = g.cast_real(v.value);
      auto report = [&](NodeP bad_elements, const std::string& what, bool show_value = true) {
        auto [bad, shown] = g.any_violation(bad_elements, x);
        lowerer_.add_check(d->loc, bad, name + " variable '" + d->name + "' " + what, shown,
                           show_value ? d->name : std::string());
      };
      if (lo) report(g.unary(Op::Not, g.binary(Op::Ge, x, lo)), "is below its lower bound");
      if (hi) report(g.unary(Op::Not, g.binary(Op::Le, x, hi)), "is above its upper bound");
      auto report_on = [&](NodeP bad_elements, NodeP shown_values, const std::string& what) {
        auto [bad, shown] = g.any_violation(bad_elements, shown_values);
        lowerer_.add_check(d->loc, bad, name + " variable '" + d->name + "' " + what, shown, d->name);
      };
      // Constrained types: along the vector's axis (the IR's first), each vector of an array on its own.
      int64_t K = x->dims.empty() ? 0 : x->dims[0];
      if ((d->base == ast::BaseType::Ordered || d->base == ast::BaseType::PositiveOrdered) && K > 1) {
        NodeP later = g.slice(x, 0, g.int_constant(1), K - 1), earlier = g.slice(x, 0, g.int_constant(0), K - 1);
        report_on(g.unary(Op::Not, g.binary(Op::Gt, later, earlier)), later, "is not a valid ordered vector");
      }
      if (d->base == ast::BaseType::PositiveOrdered && K > 0) {
        NodeP first = g.slice(x, 0, g.int_constant(0), 1);
        report_on(g.unary(Op::Not, g.binary(Op::Gt, first, g.constant(0))), first, "is not positive");
      }
      if (d->base == ast::BaseType::Simplex && K > 0) {
        report(g.unary(Op::Not, g.binary(Op::Ge, x, g.constant(0))), "is not a valid simplex (an element is negative)");
        NodeP columns = g.reshape(x, {K, x->size() / K});
        NodeP sums = g.matmul(g.transpose(columns), g.fill(g.constant(1), {K}));
        report_on(g.binary(Op::Gt, g.unary(Op::Abs, g.sub(sums, g.constant(1))), g.constant(1e-8)), sums,
                  "is not a valid simplex (its elements must sum to 1; the sum is shown)");
      }
      if (d->base == ast::BaseType::UnitVector && K > 0) {
        NodeP columns = g.reshape(x, {K, x->size() / K});
        NodeP squares = g.matmul(g.transpose(g.mul(columns, columns)), g.fill(g.constant(1), {K}));
        report_on(g.unary(Op::Not, g.binary(Op::Le, g.unary(Op::Abs, g.sub(squares, g.constant(1))), g.constant(1e-8))),
                  squares, "is not a valid unit_vector (the sum of the squares of its elements must be 1; it is shown)");
      }
      if (d->base == ast::BaseType::SumToZeroVector && K > 0) {
        NodeP columns = g.reshape(x, {K, x->size() / K});
        NodeP sums = g.matmul(g.transpose(columns), g.fill(g.constant(1), {K}));
        report_on(g.unary(Op::Not, g.binary(Op::Le, g.unary(Op::Abs, sums), g.constant(1e-8))), sums,
                  "is not a valid sum_to_zero_vector (its elements must sum to 0; the sum is shown)");
      }
      check_matrix_type(*d, x, name, report_on);
      if (keep_terms && d->type.base != Base::Int) report(g.binary(Op::Ne, x, x), "is NaN (was it assigned?)", false);
      vars.push_back(std::move(v));
    }
    if (keep_terms) {
      for (auto& t : lowerer_.take_terms()) out_.terms.push_back(t);
    }
    return vars;
  }

  // The run-time checks of a transformed parameter or generated quantity declared
  // cholesky_factor_corr, cholesky_factor_cov, corr_matrix or cov_matrix (Stan's
  // check_cholesky_factor_corr, ..., tolerance 1e-8), matrix by matrix of an array.
  template <class Report>
  void check_matrix_type(const ast::VarDecl& d, NodeP x, const std::string& block, const Report& report_on) {
    using B = ast::BaseType;
    if (d.base != B::CholeskyFactorCorr && d.base != B::CholeskyFactorCov && d.base != B::CorrMatrix &&
        d.base != B::CovMatrix)
      return;
    ir::Graph& g = *out_.graph;
    int64_t rows = x->dims.at(0), cols = x->dims.at(1);
    if (rows == 0 || cols == 0) return;
    int64_t count = x->size() / (rows * cols);
    NodeP all = g.reshape(x, {rows, cols, count});
    NodeP tolerance = g.constant(1e-8);
    for (int64_t k = 0; k < count; ++k) {
      NodeP m = g.index(all, 2, g.int_constant(k));
      std::string which = count > 1 ? " (matrix " + std::to_string(k + 1) + ")" : "";
      if (d.base == B::CholeskyFactorCorr || d.base == B::CholeskyFactorCov) {
        NodeP above = g.sub(m, stdlib::triangle(g, m, false));
        report_on(g.binary(Op::Ne, above, g.constant(0)), above, "is not lower triangular" + which);
        NodeP diagonal = stdlib::diagonal_of(g, m);
        report_on(g.unary(Op::Not, g.binary(Op::Gt, diagonal, g.constant(0))), diagonal,
                  "does not have a positive diagonal" + which);
        if (d.base == B::CholeskyFactorCorr) {
          NodeP lengths = g.matmul(g.mul(m, m), g.fill(g.constant(1), {cols}));
          report_on(g.unary(Op::Not, g.binary(Op::Le, g.unary(Op::Abs, g.sub(lengths, g.constant(1))), tolerance)),
                    lengths, "does not have rows of unit length (their squared lengths are shown)" + which);
        }
        continue;
      }
      NodeP asymmetry = g.unary(Op::Abs, g.sub(m, g.transpose(m)));
      report_on(g.unary(Op::Not, g.binary(Op::Le, asymmetry, tolerance)), asymmetry,
                "is not symmetric (|m[i, j] - m[j, i]| is shown)" + which);
      if (d.base == B::CorrMatrix) {
        NodeP diagonal = stdlib::diagonal_of(g, m);
        report_on(g.unary(Op::Not, g.binary(Op::Le, g.unary(Op::Abs, g.sub(diagonal, g.constant(1))), tolerance)),
                  diagonal, "does not have ones on its diagonal" + which);
      }
      auto [failed, first] = stdlib::failed_pivot(g, g.cholesky(m));
      lowerer_.add_check(d.loc, failed, block + " variable '" + d.name + "' is not positive definite" + which, first,
                         "first failing row");
    }
  }

  // Data and transformed data declared with a matrix type: checked on the host.
  void check_matrix_data(const ast::VarDecl& d, const std::vector<double>& values, const std::string& block) {
    using B = ast::BaseType;
    if (d.base != B::CorrMatrix && d.base != B::CovMatrix && d.base != B::CholeskyFactorCov &&
        d.base != B::CholeskyFactorCorr)
      return;
    ConstraintSpec c = lowerer_.constraint(d);
    try {
      unconstrain(c, {}, values, 0);
    } catch (const std::invalid_argument& e) {
      if (block == "data") throw UserError(data_.source() + ": field '" + d.name + "': " + e.what() + "\n");
      lowerer_.error(d.loc, block + " variable '" + d.name + "': " + e.what());
    }
  }

  // Transformed data declared with a constrained vector type (simplex, ordered,
  // positive_ordered, unit_vector, sum_to_zero_vector), vector by vector; the data
  // block's are checked as they are read (data/check_data.cpp).
  void check_vector_data(const ast::VarDecl& d, const std::vector<double>& values) {
    using B = ast::BaseType;
    if (d.base != B::Simplex && d.base != B::Ordered && d.base != B::PositiveOrdered && d.base != B::UnitVector &&
        d.base != B::SumToZeroVector)
      return;
    std::vector<int64_t> stan_dims, dims;
    lowerer_.declared_dims(d, &stan_dims, &dims);
    if (stan_dims.empty() || stan_dims.back() == 0) return;
    try {
      unconstrain(lowerer_.constraint(d), {}, values, stan_dims.back());
    } catch (const std::invalid_argument& e) {
      lowerer_.error(d.loc, "transformed data variable '" + d.name + "': " + e.what());
    }
  }

  const ast::Program& program_;
  const DataSet& data_;
  const LowerOptions& options_;
  LoweredProgram out_;
  Lowerer lowerer_;
};

}  // namespace

LoweredProgram lower_program(const ast::Program& program, const DataSet& data, const LowerOptions& options) {
  return ProgramLowering(program, data, options).run();
}

}  // namespace latent
