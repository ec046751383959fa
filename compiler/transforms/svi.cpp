#include "compiler/transforms/svi.hpp"

#include "common/source.hpp"
#include "compiler/ir/substitute.hpp"
#include "compiler/transforms/per_datum.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace latent {

using ir::NodeP;
using ir::Op;

namespace {

constexpr double kHalfLogTwoPi = 0.91893853320467274178;  // log sqrt(2 pi)

class SviBuilder {
 public:
  SviBuilder(LoweredProgram& p, const SviOptions& o) : p_(p), o_(o), g_(*p.graph) {}

  SviObjective build() {
    SviObjective result;
    SviLayout& L = result.layout;
    L.guide_network_offset = p_.network_size[0];
    L.auto_offset = p_.network_size[0] + p_.network_size[1];
    int64_t auto_phi = 0;

    // Draws of every parameter, as values of their unconstrained leaves.
    struct EntropyTerm {
      size_t guided;  // in L.guided
      const ParameterInfo* par;
      const GuideDraw* draw;
      NodeP log_q;
    };
    std::vector<EntropyTerm> entropy_terms;
    std::map<std::string, std::vector<const GuideDraw*>> guided;
    for (const GuideDraw& d : p_.guide) guided[d.parameter].push_back(&d);
    for (const ParameterInfo& par : p_.parameters) {
      auto it = guided.find(par.name);
      if (it != guided.end()) {
        const GuideDraw& first = *it->second.front();
        if (par.constraint.kind != ConstraintSpec::Kind::None)
          throw UserError(first.location + ": the guide's " + first.distribution->name +
                          " distribution needs an unconstrained parameter, but '" + par.name + "' is constrained\n");
        GuidedParameter gp{par.name, par.value->dims, par.plate, par.plate_last_axis, L.noise_size, false};
        NodeP eps = g_.input(2, L.noise_size, par.value->dims);
        L.noise_size += par.value->size();
        if (first.placeholder) {  // drawn piece by piece: no closed-form KL
          NodeP log_q = piecewise_draw(par, it->second, eps);
          if (gp.plate) local_log_q_.push_back(log_q);
          L.guided.push_back(gp);
          entropy_terms.push_back({L.guided.size() - 1, &par, nullptr, log_q});
          continue;
        }
        const GuideDraw& d = first;
        const auto& reparameterized = *d.distribution->reparameterization;
        draws_[par.unconstrained_offset] = {par.unconstrained_size, reparameterized.draw(g_, d.params, eps)};
        NodeP log_q = reparameterized.log_density(g_, d.params, eps, par.value->size());
        if (gp.plate) local_log_q_.push_back(log_q);
        L.guided.push_back(gp);
        entropy_terms.push_back({L.guided.size() - 1, &par, &d, log_q});
        continue;
      }
      if (par.plate && o_.local_scale != 1)
        throw UserError(p_.source->path + ": parameter '" + par.name + "' is indexed by the plate '" + p_.plate +
                        "'; give it a distribution in the guide block to fit it by minibatches\n");
      AutoGuided a{par.name, par.unconstrained_offset, par.unconstrained_size, auto_phi, L.noise_size};
      int64_t n = par.unconstrained_size;
      NodeP mu = g_.input(5, auto_phi, {n}), omega = g_.input(5, auto_phi + n, {n});
      NodeP eps = g_.input(2, L.noise_size, {n});
      auto_phi += 2 * n;
      L.noise_size += n;
      draws_[par.unconstrained_offset] = {n, g_.add(mu, g_.mul(g_.unary(Op::Exp, omega), eps))};
      // Entropy of the mean-field Gaussian in closed form (ADVI's estimator).
      add(par.plate, g_.add(g_.sum(omega), g_.constant((0.5 + kHalfLogTwoPi) * static_cast<double>(n))));
      L.automatic.push_back(a);
    }
    resolve_conditional_draws();
    // -log q(z), or KL(q || p) in closed form in place of it and of z's prior.
    for (const EntropyTerm& e : entropy_terms) {
      GuidedParameter& gp = L.guided[e.guided];
      NodeP kl = o_.analytic_kl && e.draw ? analytic_kl(*e.par, *e.draw, gp) : nullptr;
      gp.analytic_kl = kl != nullptr;
      add(gp.plate, g_.neg(kl ? kl : e.log_q));
    }
    // Latents outside the plate (automatic ones included) couple the data points.
    const bool global_latents =
        !L.automatic.empty() || std::any_of(L.guided.begin(), L.guided.end(), [](auto& gp) { return !gp.plate; });

    // The model's terms, each scaled by whether it touches the plate.
    mark_plate_leaves();
    std::vector<NodeP> local_terms;
    for (const Term& t : p_.terms) {
      if (kl_replaced_.count(&t)) {
        local_terms.push_back(t.value);  // for per-datum weights, which use log p - log q
        continue;
      }
      bool local = touches_plate(t.value);
      add(local, t.value);
      if (local) local_terms.push_back(t.value);
    }
    for (NodeP c : p_.guide_checks) add(false, c);

    NodeP objective = g_.add(g_.mul(g_.constant(o_.local_scale), g_.add_all(local_)),
                             g_.mul(g_.constant(o_.global_scale), g_.add_all(global_)));
    L.num_phi = L.auto_offset + auto_phi;
    result.elbo = to_phi(ir::substitute(g_, objective, leaf_replacements(objective)));

    // Per-datum log weights: log p(x_n, z_n) - log q(z_n | x_n), when the model
    // has only local latents.
    if (global_latents) {
      result.log_weights_unavailable = "the model has global latent parameters, which couple the data points";
    } else {
      NodeP joint = g_.sub(g_.add_all(local_terms), g_.add_all(local_log_q_));
      NodeP w = ir::substitute(g_, joint, leaf_replacements(joint));
      std::string why;
      NodeP rows = per_datum_sums(g_, w, plate_leaves_after(result.layout), p_.plate_size, &why);
      if (rows)
        result.log_weights = to_phi(rows);
      else
        result.log_weights_unavailable = why;
    }
    return result;
  }

 private:
  // KL(q || p) in closed form for the guide's distribution of `par` and its one
  // whole-parameter prior statement, when the library knows it (Gaussian pairs);
  // the prior's term then leaves the objective. Null otherwise, and when the
  // prior's parameters, drawn, depend on par's own noise (a guide that draws z2
  // before z1 | z2 while the model's prior is z2 | z1): the closed form holds
  // for a prior independent of the draw it is evaluated at.
  NodeP analytic_kl(const ParameterInfo& par, const GuideDraw& q, const GuidedParameter& gp) {
    const Term* prior = nullptr;
    for (const Term& t : p_.terms) {
      if (!t.tilde || t.tilde->variable != par.name || t.tilde->block != "parameters") continue;
      if (prior || !t.tilde->top_level || t.tilde->truncated || t.tilde->flow)
        return nullptr;  // more than one statement, part of one, truncated, or a flow's
      prior = &t;
    }
    if (!prior) return nullptr;
    std::vector<NodeP> p_params;
    for (const stdlib::Value& v : prior->tilde->params) {
      NodeP n = g_.cast_real(v.node);
      if (reads_noise(ir::substitute(g_, n, leaf_replacements(n)), gp)) return nullptr;
      p_params.push_back(n->is_scalar() ? n : g_.reshape(n, par.value->dims));
    }
    NodeP kl = stdlib::kl_divergence(g_, *q.distribution, q.params, *prior->tilde->distribution, p_params);
    if (kl) kl_replaced_.insert(prior);
    return kl;
  }

  // A guide that reads parameters it drew earlier (q(z2 | z1, x)) has draws
  // written in terms of those parameters' leaves. In the guide's order (the
  // checker allows reading only earlier draws) each draw is rewritten with the
  // earlier draws, so that every draw is a function of the noise and the
  // learnable values alone; the reparameterised gradient then runs through the
  // chain. The terms (log q, the model) are rewritten once, at the end.
  void resolve_conditional_draws() {
    for (const GuideDraw& d : p_.guide)
      for (const ParameterInfo& par : p_.parameters) {
        if (par.name != d.parameter) continue;
        if (d.placeholder) {  // this piece, then the parameter assembled from its pieces as they now are
          NodeP& piece = piece_draws_.at(d.placeholder).draw;
          piece = ir::substitute(g_, piece, leaf_replacements(piece));
          draws_.at(par.unconstrained_offset).second = assemble(par);
          continue;
        }
        NodeP& draw = draws_.at(par.unconstrained_offset).second;
        draw = ir::substitute(g_, draw, leaf_replacements(draw));
      }
  }

  // A parameter drawn piece by piece (`z[t] ~ ...` in the guide): each piece is
  // a reparameterised draw from its own noise; returns log q of all of them.
  // The pieces must cover the parameter, each element once.
  NodeP piecewise_draw(const ParameterInfo& par, const std::vector<const GuideDraw*>& pieces, NodeP eps) {
    const int64_t size = par.value->size();
    NodeP flat_eps = g_.reshape(eps, {size});
    std::vector<std::pair<int64_t, const GuideDraw*>> by_offset;
    std::vector<NodeP> log_q;
    for (const GuideDraw* d : pieces) {
      if (!d->placeholder)
        throw UserError(d->location + ": the guide draws '" + par.name + "' whole here and in parts elsewhere (" +
                        pieces.front()->location + ")\n");
      const std::vector<int64_t>& dims = d->placeholder->dims;
      const int64_t piece_size = d->placeholder->is_scalar() ? 1 : d->placeholder->size();
      NodeP e = g_.slice(flat_eps, 0, g_.int_constant(d->piece_offset), piece_size);
      e = dims.empty() ? g_.index(e, 0, g_.int_constant(0)) : g_.reshape(e, dims);
      const auto& reparameterized = *d->distribution->reparameterization;
      piece_draws_[d->placeholder] = {reparameterized.draw(g_, d->params, e), d->piece_offset, piece_size, size};
      log_q.push_back(reparameterized.log_density(g_, d->params, e, piece_size));
      by_offset.push_back({d->piece_offset, d});
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](auto& a, auto& b) { return a.first < b.first; });
    int64_t covered = 0;
    for (auto& [offset, d] : by_offset) {
      if (offset < covered)
        throw UserError(d->location + ": the guide draws this part of '" + par.name + "' a second time\n");
      if (offset > covered) break;
      covered += piece_draws_.at(d->placeholder).size;
    }
    if (covered != size) {
      // The gap's place along the outermost array dimension (the slowest axis).
      const int64_t block = size / std::max<int64_t>(1, par.stan_dims.at(0));
      throw UserError(pieces.front()->location + ": the guide draws parts of '" + par.name +
                      "', but not all of it: it leaves out " + par.name + "[" + std::to_string(covered / block + 1) +
                      "] (draw every element once)\n");
    }
    pieces_of_[par.name] = pieces;
    draws_[par.unconstrained_offset] = {par.unconstrained_size, assemble(par)};
    return g_.add_all(log_q);
  }

  // The draw of a piecewise parameter from its pieces' current draws.
  NodeP assemble(const ParameterInfo& par) {
    std::vector<NodeP> parts;
    for (const GuideDraw* d : pieces_of_.at(par.name)) {
      const PieceDraw& p = piece_draws_.at(d->placeholder);
      NodeP flat = p.draw->is_scalar() ? g_.reshape(p.draw, {1}) : g_.reshape(p.draw, {p.size});
      parts.push_back(g_.pad_slice({p.whole}, 0, g_.int_constant(p.offset), flat));
    }
    return g_.reshape(g_.add_all(parts), par.value->dims);
  }

  // Whether `root` reads the noise of guided parameter gp.
  static bool reads_noise(NodeP root, const GuidedParameter& gp) {
    int64_t size = 1;
    for (auto d : gp.dims) size *= d;
    for (NodeP n : ir::topological_order({root}))
      if (n->op == Op::Input && n->a == 2 && n->b < gp.noise_offset + size &&
          n->b + (n->is_scalar() ? 1 : n->size()) > gp.noise_offset)
        return true;
    return false;
  }

  void add(bool local, NodeP term) { (local ? local_ : global_).push_back(term); }

  // Data leaves of plate fields and parameter leaves of plate parameters.
  void mark_plate_leaves() {
    for (const PlateField& f : p_.plate_fields) {
      int64_t size = 1;
      for (auto d : f.shape.dims) size *= d;
      plate_ranges_.push_back({1, f.offset, f.offset + size});
    }
    for (const ParameterInfo& par : p_.parameters)
      if (par.plate)
        plate_ranges_.push_back({0, par.unconstrained_offset, par.unconstrained_offset + par.unconstrained_size});
  }

  bool is_plate_leaf(NodeP n) const {
    if (n->op != Op::Input) return false;
    int64_t size = n->is_scalar() ? 1 : n->size();
    for (auto& r : plate_ranges_)
      if (n->a == r.buffer && n->b < r.end && n->b + size > r.begin) return true;
    return false;
  }

  bool touches_plate(NodeP root) {
    for (NodeP n : ir::topological_order({root})) {
      auto [it, fresh] = touches_.emplace(n, false);
      if (!fresh) continue;
      bool t = is_plate_leaf(n);
      for (NodeP a : n->args) t = t || touches_.at(a);
      it->second = t;
    }
    return touches_.at(root);
  }

  // After substitution the plate is read through plate data and the noise of
  // plate-indexed guided parameters.
  std::vector<PlateLeaf> plate_leaves_after(const SviLayout& L) const {
    std::vector<PlateLeaf> leaves;
    for (const PlateField& f : p_.plate_fields) {
      bool axis0 = f.shape.dims.size() == 1 || (f.shape.dims.size() == 2 && f.shape.is_matrix_last2);
      int64_t size = 1;
      for (auto d : f.shape.dims) size *= d;
      leaves.push_back({1, f.offset, size, axis0});
    }
    for (const GuidedParameter& gp : L.guided)
      if (gp.plate) {
        int64_t size = 1;
        for (auto d : gp.dims) size *= d;
        leaves.push_back({2, gp.noise_offset, size, true});
      }
    return leaves;
  }

  // Unconstrained parameter leaves (Input 0) -> the draws; the placeholders of
  // guide pieces -> their draws.
  std::unordered_map<NodeP, NodeP> leaf_replacements(NodeP root) {
    std::unordered_map<NodeP, NodeP> replace;
    for (NodeP leaf : ir::topological_order({root})) {
      if (leaf->op == Op::Input && leaf->a == kGuidePieceBuffer) {
        replace[leaf] = piece_draws_.at(leaf).draw;
        continue;
      }
      if (leaf->op != Op::Input || leaf->a != 0) continue;
      auto it = draws_.upper_bound(leaf->b);
      if (it == draws_.begin()) throw std::logic_error("svi: parameter leaf outside every parameter");
      --it;
      auto [size, draw] = it->second;
      int64_t leaf_size = leaf->is_scalar() ? 1 : leaf->size();
      if (it->first == leaf->b && leaf_size == size && !leaf->is_scalar()) {
        replace[leaf] = g_.reshape(draw, leaf->dims);
        continue;
      }
      NodeP flat = draw->is_scalar() ? g_.reshape(draw, {1}) : g_.reshape(draw, {draw->size()});
      NodeP part = g_.slice(flat, 0, g_.int_constant(leaf->b - it->first), leaf_size);
      replace[leaf] = leaf->is_scalar() ? g_.index(part, 0, g_.int_constant(0)) : g_.reshape(part, leaf->dims);
    }
    return replace;
  }

  // Networks and the automatic guide's parameters -> the learnable vector (Input 0).
  NodeP to_phi(NodeP root) {
    std::unordered_map<NodeP, NodeP> replace;
    int64_t base[6] = {0, 0, 0, 0, p_.network_size[0], p_.network_size[0] + p_.network_size[1]};
    for (NodeP leaf : ir::topological_order({root})) {
      if (leaf->op != Op::Input || leaf->a < 3) continue;
      replace[leaf] = g_.input(0, base[leaf->a] + leaf->b, leaf->dims);
    }
    return ir::substitute(g_, root, replace);
  }

  struct Range {
    int64_t buffer, begin, end;
  };

  LoweredProgram& p_;
  const SviOptions& o_;
  ir::Graph& g_;
  std::map<int64_t, std::pair<int64_t, NodeP>> draws_;  // unconstrained offset -> (size, draw)
  struct PieceDraw {
    NodeP draw;
    int64_t offset, size, whole;  // flat, in the parameter of `whole` elements
  };
  std::unordered_map<NodeP, PieceDraw> piece_draws_;  // placeholder -> its draw
  std::map<std::string, std::vector<const GuideDraw*>> pieces_of_;
  std::vector<NodeP> local_, global_, local_log_q_;
  std::unordered_set<const Term*> kl_replaced_;
  std::vector<Range> plate_ranges_;
  std::unordered_map<NodeP, bool> touches_;
};

}  // namespace

SviObjective build_svi_objective(LoweredProgram& program, const SviOptions& options) {
  return SviBuilder(program, options).build();
}

}  // namespace latent
