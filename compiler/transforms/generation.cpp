#include "compiler/transforms/generation.hpp"

#include "compiler/ir/substitute.hpp"
#include "compiler/lower/lowerer.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>

namespace latent {

using ir::NodeP;
using ir::Op;

namespace {

// Draw sites: the prior's draws are numbered by parameter, the observed variables' from here.
constexpr int64_t kObservedDrawSites = int64_t{1} << 40;

// The argument of a distribution as a real value that is a scalar or has `size` elements (flat).
NodeP flat_argument(ir::Graph& g, const Term& t, const stdlib::Value& v, int64_t size) {
  NodeP a = g.cast_real(v.node);
  if (a->is_scalar()) return a;
  const TildeRecord& r = *t.tilde;
  if (a->size() != size)
    throw UserError(t.location + ": sample: the arguments of " + r.distribution->name + " for '" + r.variable +
                    "' have " + std::to_string(a->size()) + " values, '" + r.variable + "' has " +
                    std::to_string(size) + "\n");
  return g.reshape(a, {size});
}

std::string constraint_text(const ConstraintSpec& c) {
  switch (c.kind) {
    case ConstraintSpec::Kind::Lower: return "<lower=...>";
    case ConstraintSpec::Kind::Upper: return "<upper=...>";
    case ConstraintSpec::Kind::LowerUpper: return "<lower=..., upper=...>";
    case ConstraintSpec::Kind::Simplex: return "simplex";
    case ConstraintSpec::Kind::Ordered: return "ordered";
    case ConstraintSpec::Kind::PositiveOrdered: return "positive_ordered";
    case ConstraintSpec::Kind::UnitVector: return "unit_vector";
    case ConstraintSpec::Kind::SumToZero: return "sum_to_zero_vector";
    default: return "constrained";
  }
}

// The one whole-parameter prior statement of `name` (null when there is none).
const Term* prior_of(const LoweredProgram& p, const std::string& name, const std::string& model) {
  const Term* found = nullptr;
  for (const Term& t : p.terms) {
    if (!t.tilde || t.tilde->variable != name || t.tilde->block != "parameters") continue;
    if (found)
      throw UserError(model + ": sample: parameter '" + name + "' has more than one prior statement (" +
                      found->location + " and " + t.location + "); give it one to draw from\n");
    found = &t;
  }
  return found;
}

// Which parameter holds each unconstrained offset.
class ParameterIndex {
 public:
  explicit ParameterIndex(const LoweredProgram& p) : p_(p) {
    for (size_t i = 0; i < p.parameters.size(); ++i) at_[p.parameters[i].unconstrained_offset] = i;
  }
  size_t of_offset(int64_t offset) const { return std::prev(at_.upper_bound(offset))->second; }
  const std::string& name_at(int64_t offset) const { return p_.parameters.at(of_offset(offset)).name; }
  // Indices of the parameters read by `roots`.
  std::set<size_t> read_by(const std::vector<NodeP>& roots) const {
    std::set<size_t> out;
    for (NodeP n : ir::topological_order(roots))
      if (n->op == Op::Input && n->a == 0) out.insert(of_offset(n->b));
    return out;
  }

 private:
  const LoweredProgram& p_;
  std::map<int64_t, size_t> at_;
};

// `roots` with the Input(0) leaves of the parameters in `defs` (unconstrained
// offset -> (size, value of the unconstrained coordinates)) replaced by their
// definitions, repeatedly, until none is left. Other Input(0) leaves stay.
std::vector<NodeP> substitute_definitions(ir::Graph& g, std::vector<NodeP> roots,
                                          const std::map<int64_t, std::pair<int64_t, NodeP>>& defs,
                                          const ParameterIndex& index, const std::string& what) {
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
      for (auto& [leaf, _] : replace) names.insert(index.name_at(leaf->b));
      std::string list;
      for (auto& n : names) list += (list.empty() ? "'" : ", '") + n + "'";
      throw UserError("sample: the " + what + " of " + list + " depend on each other in a cycle\n");
    }
    for (NodeP& r : roots) r = ir::substitute(g, r, replace);
  }
  return roots;
}

// Whether every draw of `dist` satisfies constraint `c` (the draw can then be
// unconstrained): no constraint, <offset, multiplier>, or bounds that the
// distribution's support already respects (exponential with <lower=0>, beta with
// <lower=0, upper=1>, ...). A normal prior on a <lower=0> parameter (a truncated
// prior) is not: its draws would have to be rejected.
bool support_within(const stdlib::DistributionEntry& dist, const ConstraintSpec& c) {
  using Kind = ConstraintSpec::Kind;
  auto is = [](NodeP n, double v) { return n && n->is_const(v); };
  bool non_negative = dist.variate == stdlib::Domain::NonNegative || dist.variate == stdlib::Domain::Positive ||
                      dist.variate == stdlib::Domain::PositiveFinite;
  switch (c.kind) {
    case Kind::None: case Kind::OffsetMultiplier: return true;
    case Kind::Lower: return is(c.lower, 0) && non_negative;
    case Kind::LowerUpper: return is(c.lower, 0) && is(c.upper, 1) && dist.variate == stdlib::Domain::Probability;
    default: return false;
  }
}

// The unconstrained value of a draw x of a parameter with constraint c (the
// inverse of compiler/transforms/constraints.cpp's transforms).
NodeP unconstrain_draw(ir::Graph& g, const ConstraintSpec& c, NodeP x) {
  using Kind = ConstraintSpec::Kind;
  switch (c.kind) {
    case Kind::OffsetMultiplier: {
      NodeP off = c.offset ? c.offset : g.constant(0), mul = c.multiplier ? c.multiplier : g.constant(1);
      return g.div(g.sub(x, off), mul);
    }
    case Kind::Lower: return g.unary(Op::Log, g.sub(x, c.lower));
    case Kind::LowerUpper: {  // logit((x - lo) / (hi - lo))
      NodeP u = g.div(g.sub(x, c.lower), g.sub(c.upper, c.lower));
      return g.sub(g.unary(Op::Log, u), g.unary(Op::Log1p, g.neg(u)));
    }
    default: return x;
  }
}

// A base draw of a flow's `~` statement (in the variate's shape, or flat)
// through the flow: the variate's draw, in the base draw's shape.
NodeP through_flow(ir::Graph& g, const TildeRecord& r, NodeP base) {
  const std::vector<int64_t>& dims = r.variate.node->dims;
  NodeP rows = g.reshape(base, dims.size() == 2 ? dims : std::vector<int64_t>{1, base->size()});
  return g.reshape(flows::forward(g, *r.flow, rows), base->dims);
}

// Parameter i's draw from the model block simulated (its elements drawn one
// statement at a time, z[t] ~ ..., each reading those before): its value after
// the simulation, which must not read the parameter itself (every element drawn)
// nor a global left at its fitted value (the simulation drew those too).
NodeP ancestral_draw(const LoweredProgram& p, size_t i, const AncestralDraw& draw,
                     bool draw_globals, const std::string& model) {
  const ParameterInfo& par = p.parameters[i];
  using Kind = ConstraintSpec::Kind;
  if (par.constraint.kind != Kind::None)
    throw UserError(model + ": sample: parameter '" + par.name + "' is drawn element by element in the model block " +
                    "and is " + constraint_text(par.constraint) +
                    ": sample simulates such parameters only when they are unconstrained\n");
  if (!draw.problem.empty())
    throw UserError(model + ": sample: parameter '" + par.name + "' is drawn element by element in the model block " +
                    "(" + par.name + "[...] ~ ...), and sample cannot simulate it: " + draw.problem + "\n");
  if (!draw_globals)
    for (const auto& [name, _] : p.ancestral)
      for (const ParameterInfo& other : p.parameters)
        if (other.name == name && !other.plate)
          throw UserError(model + ": sample: the global parameter '" + name + "' is drawn element by element " +
                          "in the model block, and '" + par.name + "' is simulated after it: sample draws both only " +
                          "from the prior (--globals prior), not with the globals at their fitted values\n");
  return draw.value;
}

// Prior draws of the parameters the generated variables need (and, for drawn
// ones, those their priors need).
void build_prior(LoweredProgram& p, GenerationProgram& out, bool draw_globals, const std::string& model) {
  ir::Graph& g = *p.graph;
  ParameterIndex index(p);
  std::vector<NodeP> needed;
  for (const GeneratedVariable& v : out.variables) needed.push_back(v.mean ? v.mean : v.draw);
  std::set<size_t> todo = index.read_by(needed), done;
  std::map<int64_t, std::pair<int64_t, NodeP>> defs;
  std::vector<size_t> drawn;
  while (!todo.empty()) {
    size_t i = *todo.begin();
    todo.erase(todo.begin());
    if (!done.insert(i).second) continue;
    const ParameterInfo& par = p.parameters[i];
    if (!par.plate && !draw_globals) continue;  // at its value in theta
    if (auto a = p.ancestral.find(par.name); a != p.ancestral.end()) {
      NodeP x = ancestral_draw(p, i, a->second, draw_globals, model);
      defs[par.unconstrained_offset] = {par.unconstrained_size, x};
      drawn.push_back(i);
      for (size_t j : index.read_by({x})) todo.insert(j);
      continue;
    }
    const Term* prior = prior_of(p, par.name, model);
    const stdlib::DistributionEntry* dist = prior ? prior->tilde->distribution : nullptr;
    if (prior && prior->tilde->truncated)
      throw UserError(prior->location + ": sample: cannot draw parameter '" + par.name +
                      "': its prior is truncated (T[...]), and sample draws from untruncated ones only\n");
    if (!prior || !prior->tilde->top_level || !dist->sample)
      throw UserError(model + ": sample: parameter '" + par.name + "' has no prior to draw from: a statement `" +
                      par.name + " ~ dist(...)` or `to_vector(" + par.name + ") ~ dist(...)` in the model block, " +
                      "outside loops and conditions\n");
    if (!support_within(*dist, par.constraint))
      throw UserError(prior->location + ": sample: parameter '" + par.name + "' is " +
                      constraint_text(par.constraint) + ", and draws from its prior " + dist->name +
                      " are not all inside that constraint (a truncated prior): sample draws parameters whose prior's "
                      "support is their constraint's (e.g. exponential or lognormal with <lower=0>, beta with "
                      "<lower=0, upper=1>), or unconstrained ones\n");
    const std::vector<int64_t>& dims = par.value->dims;
    std::vector<NodeP> params;
    for (const stdlib::Value& v : prior->tilde->params) {
      NodeP n = g.cast_real(v.node);
      params.push_back(n->is_scalar() || dims.empty() ? n : g.reshape(n, dims));
    }
    NodeP x = g.random(dist->sampler_id, static_cast<int64_t>(i), ir::DType::Real, dims, params, {});
    if (prior->tilde->flow) x = through_flow(g, *prior->tilde, x);
    defs[par.unconstrained_offset] = {par.unconstrained_size, unconstrain_draw(g, par.constraint, x)};
    drawn.push_back(i);
    for (size_t j : index.read_by(params)) todo.insert(j);
  }
  std::vector<NodeP> roots;
  for (size_t i : drawn) roots.push_back(defs.at(p.parameters[i].unconstrained_offset).second);
  roots = substitute_definitions(g, roots, defs, index, "priors");
  for (size_t k = 0; k < drawn.size(); ++k) {
    const ParameterInfo& par = p.parameters[drawn[k]];
    NodeP r = roots[k]->is_scalar() && par.unconstrained_size != 1 ? g.fill(roots[k], {par.unconstrained_size})
                                                                    : g.reshape(roots[k], {par.unconstrained_size});
    out.outputs.push_back({r, par.unconstrained_offset});
    out.written.push_back({par.unconstrained_offset, par.unconstrained_size});
  }
  out.out_size = p.num_unconstrained;
}

// The means of the guide's distributions (a guide that reads other guided
// parameters reads their means).
void build_encoder(LoweredProgram& p, GenerationProgram& out) {
  ir::Graph& g = *p.graph;
  ParameterIndex index(p);
  std::map<int64_t, std::pair<int64_t, NodeP>> defs;
  std::vector<NodeP> roots;
  std::vector<const ParameterInfo*> targets;
  for (const GuideDraw& d : p.guide) {
    if (!d.distribution->mean)
      throw UserError(d.location + ": sample: the mean of the guide's distribution '" + d.distribution->name +
                      "' is not known\n");
    for (const ParameterInfo& par : p.parameters) {
      if (par.name != d.parameter) continue;
      NodeP mean = d.distribution->mean(g, d.params);
      defs[par.unconstrained_offset] = {par.unconstrained_size, mean};
      roots.push_back(mean);
      targets.push_back(&par);
    }
  }
  roots = substitute_definitions(g, roots, defs, index, "guide's means");
  for (size_t i = 0; i < roots.size(); ++i) {
    const ParameterInfo& par = *targets[i];
    out.outputs.push_back({g.reshape(roots[i], {par.unconstrained_size}), par.unconstrained_offset});
    out.written.push_back({par.unconstrained_offset, par.unconstrained_size});
  }
  out.out_size = p.num_unconstrained;
}

}  // namespace

// The generated quantities as the generated variables (their values are the outputs).
std::vector<GeneratedVariable> quantities(LoweredProgram& p, const std::string& model) {
  ir::Graph& g = *p.graph;
  std::vector<GeneratedVariable> out;
  int64_t offset = 0;
  for (const VariableInfo& q : p.generated_quantities) {
    if (!p.plate.empty() && !q.plate)
      throw UserError(model + ": sample: the generated quantity '" + q.name + "' is not indexed by the plate '" +
                      p.plate + "': sample writes one row per data point, so every generated quantity must have the "
                      "plate as its first dimension\n");
    GeneratedVariable v;
    v.name = q.name;
    v.distribution = "generated quantities";
    v.stan_dims = q.stan_dims;
    v.is_matrix = q.is_matrix;
    const int64_t size = q.value->is_scalar() ? 1 : q.value->size();
    v.mean = g.reshape(g.cast_real(q.value->is_scalar() ? g.fill(q.value, {1}) : q.value), {size});
    v.events = size;
    v.out_offset = offset;
    offset += size;
    out.push_back(v);
  }
  return out;
}

std::vector<GeneratedVariable> generated_variables(LoweredProgram& p, const std::string& model) {
  if (!p.generated_quantities.empty()) return quantities(p, model);
  ir::Graph& g = *p.graph;
  std::vector<GeneratedVariable> out;
  std::set<std::string> seen;
  int64_t offset = 0;
  for (const Term& t : p.terms) {
    if (!t.tilde || !t.tilde->top_level || t.tilde->variable.empty() || t.tilde->block != "data") continue;
    const TildeRecord& r = *t.tilde;
    if (!p.plate.empty()) {
      bool per_row = false;
      for (const PlateField& f : p.plate_fields) per_row |= f.shape.name == r.variable;
      if (!per_row) continue;  // a global observation: not generated per row
    }
    if (r.truncated)
      throw UserError(t.location + ": sample: cannot generate '" + r.variable +
                      "': its distribution is truncated (T[...]), and sample draws from untruncated ones only\n");
    if (!seen.insert(r.variable).second)
      throw UserError(t.location + ": sample: '" + r.variable + "' is observed by more than one statement\n");
    if (!r.distribution->mean)
      throw UserError(t.location + ": sample: cannot generate '" + r.variable + "': the mean of its distribution '" +
                      r.distribution->name + "' is not known to sample (" + model + ")\n");
    GeneratedVariable v;
    v.name = r.variable;
    v.distribution = r.distribution->name;
    const stdlib::Value& whole = r.variable_value;
    v.stan_dims = Lowerer::stan_dims_of(whole.type, whole.node->dims);
    v.is_matrix = whole.type.base == Base::Matrix;
    const int64_t size = whole.node->is_scalar() ? 1 : whole.node->size();
    std::vector<NodeP> params;
    v.events = size;
    if (!r.distribution->elementwise) {  // its parameters as given; outcomes are rows of the variate
      for (const stdlib::Value& a : r.params) params.push_back(g.cast_real(a.node));
      const std::vector<int64_t>& variate = r.variate.node->dims;
      if (variate.size() != 2 || r.variate.node->size() != size)
        throw UserError(t.location + ": sample: '" + r.variable + "' is drawn from " + r.distribution->name +
                        " as a matrix of one-hot rows only\n");
      v.events = variate[0];
      v.event_size = variate[1];
      stdlib::CallContext ctx(g, *p.source, SourceLoc{}, r.distribution->name);
      ctx.draw_site = kObservedDrawSites + static_cast<int64_t>(out.size());
      NodeP mean = r.distribution->mean ? r.distribution->mean(g, params) : nullptr;
      NodeP draw = r.distribution->draw && !r.distribution->rng_signature ? r.distribution->draw(ctx, params, variate)
                                                                          : nullptr;
      if (!mean || !draw || mean->size() != size || draw->size() != size)  // multi_normal's vectors, LKJ's matrices
        throw UserError(t.location + ": sample: '" + r.variable + "' is drawn from " + r.distribution->name +
                        ", whose draws sample does not make (it draws matrices of one-hot rows of categorical "
                        "outcomes)\n");
      v.mean = g.reshape(mean, {size});
      v.draw = g.reshape(draw, {size});
    } else {
      for (const stdlib::Value& a : r.params) params.push_back(flat_argument(g, t, a, size));
      NodeP mean = r.distribution->mean(g, params);
      v.mean = mean->is_scalar() ? g.fill(mean, {size}) : mean;
    }
    if (r.distribution->elementwise && r.distribution->sample) {
      ir::DType dtype = r.distribution->discrete ? ir::DType::Int : ir::DType::Real;
      std::vector<NodeP> full;  // the sampler takes parameters of the draw's shape (or scalars)
      for (NodeP a : params) full.push_back(a->is_scalar() ? a : g.reshape(a, {size}));
      v.draw = g.random(r.distribution->sampler_id, kObservedDrawSites + static_cast<int64_t>(out.size()), dtype, {size},
                        full, {});
    }
    if (r.flow) {  // the flow's image of the base draw; its mean has no closed form
      v.draw = through_flow(g, r, v.draw);
      v.mean = nullptr;
      if (r.variate.node->dims.size() == 2) {
        v.events = r.variate.node->dims[0];
        v.event_size = r.variate.node->dims[1];
      }
    }
    // Data in the buffer that its own distribution reads: an autoregressive variable.
    if (whole.node->op == Op::Input && whole.node->a == 1) {
      v.data_offset = whole.node->b;
      for (NodeP n : ir::topological_order(params)) {
        if (n->op != Op::Input || n->a != 1) continue;
        int64_t n_size = n->is_scalar() ? 1 : n->size();
        if (n->b < v.data_offset + size && n->b + n_size > v.data_offset) v.depends_on_itself = true;
      }
      if (v.depends_on_itself && r.flow)
        throw UserError(t.location + ": sample: the base of flow '" + r.variable + "' reads '" + r.variable +
                        "' itself, so it cannot be drawn\n");
    }
    v.out_offset = offset;
    offset += size;
    out.push_back(v);
  }
  if (out.empty())
    throw UserError(model + ": sample: the model has nothing to generate: no statement `y ~ dist(...)` on a " +
                    (p.plate.empty() ? std::string("whole data variable")
                                     : "whole data variable indexed by the plate '" + p.plate + "'") +
                    " in the model block (an observed variable that appears only in `target += ...` cannot be "
                    "drawn: write its draw in generated quantities with `_rng` functions, e.g. "
                    "`y_rep = normal_rng(mu, sigma)`)\n");
  return out;
}

GenerationProgram build_generation(LoweredProgram& p, GenerationStep step, bool draw_globals,
                                   const std::string& model) {
  GenerationProgram out;
  out.variables = generated_variables(p, model);
  switch (step) {
    case GenerationStep::Prior: build_prior(p, out, draw_globals, model); break;
    case GenerationStep::Encoder: build_encoder(p, out); break;
    case GenerationStep::Draw:
      for (const GeneratedVariable& v : out.variables) {
        if (!v.draw)
          throw UserError(model + ": sample: '" + v.name + "' has a distribution without a sampler (" +
                          v.distribution + "); use --mean for its mean\n");
        out.outputs.push_back({v.draw, v.out_offset});
        out.out_size = v.out_offset + v.draw->size();
      }
      break;
    case GenerationStep::Decoder:
      for (const GeneratedVariable& v : out.variables) {
        if (!v.mean)
          throw UserError(model + ": sample: '" + v.name + "' is drawn through a flow, whose mean has no closed "
                          "form; sample draws without --mean\n");
        out.outputs.push_back({v.mean, v.out_offset});
        out.out_size = v.out_offset + v.mean->size();
      }
      break;
    case GenerationStep::Quantities:  // the values, and the checks of the block (a failure reports)
      for (const GeneratedVariable& v : out.variables) {
        out.outputs.push_back({v.mean, v.out_offset});
        out.out_size = v.out_offset + v.mean->size();
      }
      out.outputs.push_back({p.graph->add_all(p.generated_checks), out.out_size++});
      break;
  }
  return out;
}

}  // namespace latent
