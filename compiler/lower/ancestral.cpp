#include "compiler/lower/ancestral.hpp"

#include "compiler/ir/substitute.hpp"

#include <set>
#include <unordered_map>
#include <unordered_set>

namespace latent {

using ir::NodeP;

namespace {

// The indices of the placeholders that `root` reads.
std::set<int64_t> placeholders_read(NodeP root) {
  std::set<int64_t> out;
  for (NodeP n : ir::topological_order({root}))
    if (n->op == ir::Op::Input && n->a == kSimulatedPieceBuffer) out.insert(n->b);
  return out;
}

int64_t size_of(NodeP n) { return n->is_scalar() ? 1 : n->size(); }

// Calls f(offset in a tensor of `dims`, offset in its slab) for each element of
// the slab at position i of `axis` (storage order: axis 0 fastest).
template <class F>
void for_slab(const std::vector<int64_t>& dims, int axis, int64_t i, F f) {
  int64_t inner = 1, outer = 1;
  for (int d = 0; d < axis; ++d) inner *= dims[static_cast<size_t>(d)];
  for (size_t d = static_cast<size_t>(axis) + 1; d < dims.size(); ++d) outer *= dims[d];
  const int64_t n = dims[static_cast<size_t>(axis)];
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < inner; ++k) f(o * n * inner + i * inner + k, o * inner + k);
}

// Which elements of `n` depend on `leaf`: exact through element updates with
// known indexes (x[t] = ..., as unrolled loops build values), elementwise ops
// and reshapes; any other node that reads the leaf counts as wholly dependent.
class LeafReach {
 public:
  LeafReach(NodeP root, NodeP leaf) : leaf_(leaf) {
    for (NodeP n : ir::topological_order({root})) {  // arguments first
      bool t = n == leaf;
      for (NodeP a : n->args) t = t || touches_.count(a);
      if (t) touches_.insert(n);
    }
  }

  const std::vector<bool>& mask(NodeP n) {
    if (auto it = memo_.find(n); it != memo_.end()) return it->second;
    std::vector<bool> m(static_cast<size_t>(size_of(n)), false);
    if (n == leaf_) {
      m.assign(m.size(), true);
    } else if (!touches_.count(n)) {
      // depends on nothing of the leaf
    } else if (n->op == ir::Op::SetIndex && n->args[1]->is_const()) {
      m = mask(n->args[0]);
      const std::vector<bool>& v = mask(n->args[2]);
      for_slab(n->dims, static_cast<int>(n->a), static_cast<int64_t>(n->args[1]->value),
               [&](int64_t full, int64_t slab) { m[static_cast<size_t>(full)] = v[static_cast<size_t>(slab)]; });
    } else if (n->op == ir::Op::Index && n->args[1]->is_const()) {
      const std::vector<bool>& t = mask(n->args[0]);
      for_slab(n->args[0]->dims, static_cast<int>(n->a), static_cast<int64_t>(n->args[1]->value),
               [&](int64_t full, int64_t slab) { m[static_cast<size_t>(slab)] = t[static_cast<size_t>(full)]; });
    } else if (n->op == ir::Op::Pack) {
      for (size_t k = 0; k < n->args.size(); ++k) m[k] = mask(n->args[k])[0];
    } else if (n->op == ir::Op::Reshape || n->op == ir::Op::Fill || ir::is_elementwise(n->op)) {
      for (NodeP a : n->args) {
        const std::vector<bool>& am = mask(a);
        for (size_t k = 0; k < m.size(); ++k) m[k] = m[k] || am[am.size() == m.size() ? k : 0];
      }
    } else {
      m.assign(m.size(), true);
    }
    return memo_[n] = std::move(m);
  }

 private:
  NodeP leaf_;
  std::unordered_set<NodeP> touches_;  // the nodes that read the leaf
  std::unordered_map<NodeP, std::vector<bool>> memo_;
};

// Whether some element of `value` is the leaf's (a part of it never drawn).
bool reads_undrawn(NodeP value, NodeP leaf) {
  LeafReach reach(value, leaf);
  for (bool b : reach.mask(value))
    if (b) return true;
  return false;
}

}  // namespace

std::map<std::string, AncestralDraw> resolve_ancestral(ir::Graph& g, const std::vector<SimulatedParameter>& parameters,
                                                       const std::vector<std::pair<NodeP, NodeP>>& pieces) {
  // A draw that reads an element before the statement drawing it reads the leaf:
  // it reads the simulated value instead.
  // Where every element is drawn, the value reads the leaf only in elements it
  // overwrites: the leaf is replaced by zeros, so that nothing reads it.
  std::unordered_map<NodeP, NodeP> leaf_to_value;
  std::map<std::string, bool> complete;
  std::vector<NodeP> values;
  for (const SimulatedParameter& p : parameters) {
    complete[p.name] = !p.leaf || !reads_undrawn(p.value, p.leaf);
    NodeP v = p.value;
    if (p.leaf && complete[p.name])
      v = ir::substitute(g, v, {{p.leaf, p.leaf->is_scalar() ? g.constant(0) : g.fill(g.constant(0), p.leaf->dims)}});
    values.push_back(v);
    if (p.leaf) leaf_to_value[p.leaf] = v;
  }
  std::vector<NodeP> draws;
  std::vector<std::set<int64_t>> needs;
  for (const auto& [placeholder, draw] : pieces) {
    draws.push_back(ir::substitute(g, draw, leaf_to_value));
    needs.push_back(placeholders_read(draws.back()));
  }
  // Resolve in dependence order (Kahn's): a draw once every draw it reads is resolved.
  std::unordered_map<NodeP, NodeP> resolved;
  std::vector<bool> done(pieces.size(), false);
  for (bool progress = true; progress;) {
    progress = false;
    for (size_t k = 0; k < pieces.size(); ++k) {
      if (done[k]) continue;
      bool ready = true;
      for (int64_t j : needs[k]) ready &= done[static_cast<size_t>(j)];
      if (!ready) continue;
      resolved[pieces[k].first] = ir::substitute(g, draws[k], resolved);
      done[k] = progress = true;
    }
  }
  std::map<std::string, AncestralDraw> out;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const SimulatedParameter& p = parameters[i];
    AncestralDraw& a = out[p.name];
    a.value = values[i];
    if (!complete[p.name]) {
      a.problem = "not every element is drawn by a ~ statement";
      continue;
    }
    bool cyclic = false;
    for (int64_t j : placeholders_read(values[i])) cyclic |= !done[static_cast<size_t>(j)];
    if (cyclic) {
      a.problem = "the draws of its elements read each other in a cycle";
      continue;
    }
    a.value = ir::substitute(g, values[i], resolved);
  }
  return out;
}

}  // namespace latent
