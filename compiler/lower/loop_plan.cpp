#include "compiler/lower/loop_plan.hpp"

#include "stdlib/library.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <vector>

namespace latent {

namespace {

std::string function_blocker(const ast::FunctionDef& f);
void mentioned(const ast::Expr& e, std::set<std::string>& out);

struct Use {
  bool assigned = false;
  std::string op;                 // assignment operator when assigned
  bool indexed_by_loop = false;   // first index is exactly the loop variable
  bool indexed = false;
  int64_t lag = -1;               // first index is the loop variable minus lag (0: itself); -1 otherwise
  // The column it touches: v[r, c], v[a:b, c], v[:, c], sub_col(v, r, c, n), col(v, c); else null.
  const ast::Expr* column = nullptr;
};

// The column expression of an indexing of a variable (one level, two indexes, the
// second a single index), or null.
const ast::Expr* column_of(const ast::Expr& index_expr) {
  if (index_expr.indices.size() != 2 || index_expr.indices[1].kind != ast::Index::Kind::Single) return nullptr;
  return index_expr.indices[1].lower.get();
}

// Whether two expressions are written the same way.
bool same_expr(const ast::Expr& a, const ast::Expr& b) {
  if (a.kind != b.kind || a.name != b.name || a.int_value != b.int_value || a.real_value != b.real_value ||
      a.args.size() != b.args.size() || a.indices.size() != b.indices.size())
    return false;
  for (size_t k = 0; k < a.args.size(); ++k)
    if (!same_expr(*a.args[k], *b.args[k])) return false;
  for (size_t k = 0; k < a.indices.size(); ++k) {
    const ast::Index &x = a.indices[k], &y = b.indices[k];
    if (x.kind != y.kind || !x.lower != !y.lower || !x.upper != !y.upper) return false;
    if ((x.lower && !same_expr(*x.lower, *y.lower)) || (x.upper && !same_expr(*x.upper, *y.upper))) return false;
  }
  return true;
}

class BodyScan {
 public:
  explicit BodyScan(std::string loop_var) : loop_var_(std::move(loop_var)) {}

  std::map<std::string, std::vector<Use>> uses;
  std::set<std::string> declared;
  std::string blocker;  // non-empty: must unroll
  bool draws = false;   // calls an _rng function (a Scan would draw again where its history is read)
  // break / continue of the scanned loop (inside an inner loop they are that loop's), return anywhere.
  bool breaks = false, continues = false, returns = false;

  void stmt(const ast::Stmt& s) {
    using K = ast::StmtKind;
    switch (s.kind) {
      case K::Decl:
        declared.insert(s.decl->name);
        for (auto* list : {&s.decl->sizes, &s.decl->array_sizes})
          for (auto& e : *list) {
            expr(*e);
            std::set<std::string> names;
            mentioned(*e, names);
            sizes.push_back({names, "the size of '" + s.decl->name + "' may change from one iteration to the next", {e.get()}});
          }
        if (s.decl->init) {
          expr(*s.decl->init);
          flow(s.decl->name, *s.decl->init);
        }
        break;
      case K::Assign: {
        const ast::Expr* root = s.lhs.get();
        std::vector<const ast::Expr*> index_levels;
        while (root->kind == ast::ExprKind::Index) {
          index_levels.push_back(root);
          root = root->args[0].get();
        }
        Use u;
        u.assigned = true;
        u.op = s.op;
        if (!index_levels.empty()) {
          u.indexed = true;
          u.indexed_by_loop = first_index_is_loop_var(*index_levels.back());
          u.lag = first_index_lag(*index_levels.back());
          if (index_levels.size() == 1) u.column = column_of(*index_levels.back());
        }
        uses[root->name].push_back(u);
        for (auto* level : index_levels)
          for (auto& ix : level->indices) index(ix);
        expr(*s.rhs);
        flow(root->name, *s.rhs);
        for (auto* level : index_levels)  // x[k] = ...: x varies where k does
          for (auto& ix : level->indices) {
            if (ix.lower) flow(root->name, *ix.lower);
            if (ix.upper) flow(root->name, *ix.upper);
          }
        break;
      }
      case K::Tilde:
        expr(*s.lhs);
        for (auto& a : s.args) expr(*a);
        for (const ast::ExprPtr* e : {&s.truncate_lower, &s.truncate_upper})
          if (*e) expr(**e);
        if (s.function)
          if (std::string why = function_blocker(*s.function); !why.empty()) blocker = why;
        break;
      case K::TargetPlus:
      case K::Expression:
        expr(*s.rhs);
        break;
      case K::For:
      case K::Foreach: {
        expr(*s.lower);
        if (s.upper) expr(*s.upper);
        declared.insert(s.loop_var);
        inner_loop_vars.insert(s.loop_var);
        if (s.kind == K::For) {
          LoopPlan inner = plan_loop(s);
          // An inner Scan can sit in a symbolic body if its trip count is known before the body runs.
          std::set<std::string> bounds;
          mentioned(*s.lower, bounds);
          mentioned(*s.upper, bounds);
          bool fixed_bounds = !bounds.count(loop_var_);
          for (const std::string& b : bounds) fixed_bounds = fixed_bounds && !declared.count(b);
          if (!inner.symbolic && !(inner.scannable && fixed_bounds))
            blocker = "a nested loop is unrolled (" + inner.why_unrolled + ")";
        } else {
          blocker = "it contains a foreach loop";
        }
        inner_loop_body(*s.body);
        break;
      }
      case K::While:
        blocker = "it contains a while loop";
        inner_loop_body(*s.body);
        expr(*s.cond);
        break;
      case K::If:
        expr(*s.cond);
        stmt(*s.body);
        if (s.else_body) stmt(*s.else_body);
        break;
      case K::Block:
        for (auto& x : s.stmts) stmt(*x);
        break;
      case K::Print:
      case K::Reject:
        for (auto& a : s.args) expr(*a);
        break;
      case K::Break:
        breaks = breaks || inner_loops_ == 0;
        break;
      case K::Continue:
        continues = continues || inner_loops_ == 0;
        break;
      case K::Return:
        returns = true;
        blocker = "it contains return";
        break;
      case K::Empty: break;
    }
  }

 private:
  void inner_loop_body(const ast::Stmt& body) {
    ++inner_loops_;
    stmt(body);
    --inner_loops_;
  }

  // c when the first index is `loop_var - c` (c a literal >= 1), 0 for the loop variable, else -1.
  int64_t first_index_lag(const ast::Expr& index_expr) const {
    if (first_index_is_loop_var(index_expr)) return 0;
    const ast::Index& first = index_expr.indices[0];
    if (first.kind != ast::Index::Kind::Single || !first.lower) return -1;
    const ast::Expr& e = *first.lower;
    if (e.kind != ast::ExprKind::Binary || e.name != "-" || e.args[0]->kind != ast::ExprKind::Var ||
        e.args[0]->name != loop_var_ || e.args[1]->kind != ast::ExprKind::IntLit || e.args[1]->int_value < 1)
      return -1;
    return e.args[1]->int_value;
  }

  bool first_index_is_loop_var(const ast::Expr& index_expr) const {
    if (index_expr.indices.empty()) return false;
    const ast::Index& first = index_expr.indices[0];
    return first.kind == ast::Index::Kind::Single && first.lower && first.lower->kind == ast::ExprKind::Var &&
           first.lower->name == loop_var_;
  }

  // `padded`: a range read by a reduction (its length may change).
  void index(const ast::Index& ix, bool padded = false) {
    if (ix.lower) expr(*ix.lower);
    if (ix.upper) expr(*ix.upper);
    if (ix.kind == ast::Index::Kind::Range && ix.lower && ix.upper && !padded) {
      // a:b whose bounds change with the loop: the length must stay fixed, as in i:(i + 2).
      const ast::Expr *lo = base_of(*ix.lower), *hi = base_of(*ix.upper);
      bool together = lo->kind == ast::ExprKind::Var && hi->kind == ast::ExprKind::Var && lo->name == hi->name;
      if (!together) {
        std::set<std::string> names;
        mentioned(*ix.lower, names);
        mentioned(*ix.upper, names);
        sizes.push_back({names, "the length of a slice may change from one iteration to the next",
                         {ix.lower.get(), ix.upper.get()}});
      }
    }
  }

  // `target` takes a value computed from the names e mentions.
  void flow(const std::string& target, const ast::Expr& e) {
    std::set<std::string> names;
    mentioned(e, names);
    flows.push_back({target, names});
  }

 public:
  // Sizes the body computes (slice lengths, head(x, n)'s n, ...): the names they
  // mention, why each matters, and the expressions that give them.
  struct Size {
    std::set<std::string> names;
    std::string why;
    std::vector<const ast::Expr*> exprs;
  };
  std::vector<Size> sizes;
  std::vector<std::pair<std::string, std::set<std::string>>> flows;
  std::set<std::string> inner_loop_vars;

  // A size that may change from one iteration to the next: it mentions the loop
  // variable, an inner loop's, or a variable the body computes from them.
  std::string varying_size() const {
    std::vector<const Size*> v = varying_sizes();
    return v.empty() ? "" : v.front()->why;
  }

  std::vector<const Size*> varying_sizes() const {
    std::set<std::string> varying = inner_loop_vars;
    varying.insert(loop_var_);
    for (bool grew = true; grew;) {
      grew = false;
      for (auto& [target, sources] : flows) {
        if (varying.count(target)) continue;
        for (const std::string& n : sources)
          if (varying.count(n)) {
            varying.insert(target);
            grew = true;
            break;
          }
      }
    }
    std::vector<const Size*> out;
    for (const Size& size : sizes) {
      bool varies = false;
      for (const std::string& n : size.names) varies = varies || varying.count(n) > 0;
      if (varies) out.push_back(&size);
    }
    return out;
  }

 private:

  // e without a literal added or subtracted: i for i + 2 or i - 1.
  static const ast::Expr* base_of(const ast::Expr& e) {
    if (e.kind == ast::ExprKind::Binary && (e.name == "+" || e.name == "-") && e.args[1]->kind == ast::ExprKind::IntLit)
      return e.args[0].get();
    if (e.kind == ast::ExprKind::Binary && e.name == "+" && e.args[0]->kind == ast::ExprKind::IntLit)
      return e.args[1].get();
    return &e;
  }

  void expr(const ast::Expr& e) {
    if (e.kind == ast::ExprKind::Var) {
      uses[e.name].push_back(Use{});
      return;
    }
    if (e.kind == ast::ExprKind::Call && e.name == "target") blocker = "it reads target()";
    if (e.kind == ast::ExprKind::Call && e.name.size() > 4 && e.name.compare(e.name.size() - 4, 4, "_rng") == 0) draws = true;
    if (e.kind == ast::ExprKind::Call && e.function)
      if (std::string why = function_blocker(*e.function); !why.empty()) blocker = why;
    if (e.kind == ast::ExprKind::Call && !e.function) {
      // A slice read by a reduction that zeros do not change may vary in length (padded).
      for (auto& a : e.args) {
        bool range = a->kind == ast::ExprKind::Index && a->indices.size() == 1 &&
                     a->indices[0].kind == ast::Index::Kind::Range && stdlib::reads_padded_range(e.name);
        if ((a->kind == ast::ExprKind::Call && !a->function && stdlib::reads_padded(e.name, a->name)) || range)
          padded_slices_.insert(a.get());
      }
      if (!padded_slices_.count(&e)) size_blocker(e);
    }
    if (e.kind == ast::ExprKind::Index) {
      // Find the indexed root variable and whether the outermost index is the loop variable.
      const ast::Expr* root = &e;
      std::vector<const ast::Expr*> levels;
      while (root->kind == ast::ExprKind::Index) {
        levels.push_back(root);
        root = root->args[0].get();
      }
      if (root->kind == ast::ExprKind::Var) {
        Use u;
        u.indexed = true;
        u.indexed_by_loop = first_index_is_loop_var(*levels.back());
        u.lag = first_index_lag(*levels.back());
        if (levels.size() == 1) u.column = column_of(*levels.back());
        uses[root->name].push_back(u);
      } else {
        expr(*root);
      }
      for (auto* level : levels)
        for (auto& ix : level->indices) index(ix, padded_slices_.count(&e) > 0);
      return;
    }
    // sub_col(v, r, c, n) and col(v, c) touch column c of v.
    bool column_call = e.kind == ast::ExprKind::Call && !e.function && (e.name == "sub_col" || e.name == "col") &&
                       e.args.size() >= 2 && e.args[0]->kind == ast::ExprKind::Var;
    for (size_t k = 0; k < e.args.size(); ++k) {
      size_t use = column_call && k == 0 ? uses[e.args[0]->name].size() : 0;
      expr(*e.args[k]);
      if (column_call && k == 0) uses[e.args[0]->name][use].column = e.args[e.name == "col" ? 1 : 2].get();
    }
    for (auto& ix : e.indices) index(ix);
  }

  // A library call whose result's size is an argument (head(x, n), sub_col(x, i, j, n),
  // rep_vector(x, n), ...) with a size that may change with the loop variable (it
  // mentions it or a variable declared in the body): the sizes of IR values are fixed,
  // so each iteration needs its own, known size.
  void size_blocker(const ast::Expr& e) {
    static const std::map<std::string, std::vector<size_t>> size_arguments{
        {"head", {1}},         {"tail", {1}},           {"segment", {2}},         {"sub_col", {3}},
        {"sub_row", {3}},      {"block", {3, 4}},       {"rep_vector", {1}},      {"rep_row_vector", {1}},
        {"rep_matrix", {1, 2}}, {"rep_array", {1, 2, 3}}, {"identity_matrix", {0}}, {"to_matrix", {1, 2}}};
    auto it = size_arguments.find(e.name);
    if (it == size_arguments.end()) return;
    for (size_t k : it->second) {
      if (k >= e.args.size()) continue;
      std::set<std::string> names;
      mentioned(*e.args[k], names);
      sizes.push_back({names, "the size of '" + e.name + "(...)' may change from one iteration to the next",
                       {e.args[k].get()}});
    }
  }

  std::string loop_var_;
  std::set<const ast::Expr*> padded_slices_;
  int inner_loops_ = 0;  // loops inside the scanned body enclosing the statement scanned
};

// Why a loop calling f must be unrolled, or "". Inlined into a symbolic loop,
// f's body sees the loop variable as a value unknown while lowering: a
// recursion would never end, and a loop of f that must be unrolled would have
// no known bounds. (A function that reaches no recursion cannot call itself
// through others, so this terminates.)
std::string function_blocker(const ast::FunctionDef& f) {
  if (f.reaches_recursion) return "it calls the recursive function '" + f.name + "'";
  std::string why;
  std::function<void(const ast::Expr&)> expr = [&](const ast::Expr& e) {
    if (e.kind == ast::ExprKind::Call && e.function && why.empty()) why = function_blocker(*e.function);
    for (auto& a : e.args)
      if (a) expr(*a);
    for (auto& ix : e.indices) {
      if (ix.lower) expr(*ix.lower);
      if (ix.upper) expr(*ix.upper);
    }
  };
  std::function<void(const ast::Stmt&)> stmt = [&](const ast::Stmt& s) {
    using K = ast::StmtKind;
    if (!why.empty()) return;
    if (s.kind == K::While || s.kind == K::Foreach) {
      why = "it calls '" + f.name + "', which has a loop evaluated iteration by iteration";
      return;
    }
    if (s.kind == K::For) {
      LoopPlan inner = plan_loop(s);
      if (!inner.symbolic) {
        why = "it calls '" + f.name + "', whose loop is evaluated iteration by iteration (" + inner.why_unrolled + ")";
        return;
      }
    }
    if (s.kind == K::Tilde && s.function && why.empty()) why = function_blocker(*s.function);
    for (const ast::ExprPtr* e : {&s.lhs, &s.rhs, &s.lower, &s.upper, &s.cond, &s.truncate_lower, &s.truncate_upper})
      if (*e) expr(**e);
    for (auto& a : s.args) expr(*a);
    if (s.decl) {
      if (s.decl->init) expr(*s.decl->init);
      for (auto& e : s.decl->sizes) expr(*e);
      for (auto& e : s.decl->array_sizes) expr(*e);
    }
    for (const ast::StmtPtr* b : {&s.body, &s.else_body})
      if (*b) stmt(**b);
    for (auto& x : s.stmts) stmt(*x);
  };
  stmt(*f.body);
  return why;
}

// Names a statement or expression mentions (read or written).
void mentioned(const ast::Expr& e, std::set<std::string>& out) {
  if (e.kind == ast::ExprKind::Var) out.insert(e.name);
  for (auto& a : e.args)
    if (a) mentioned(*a, out);
  for (auto& ix : e.indices) {
    if (ix.lower) mentioned(*ix.lower, out);
    if (ix.upper) mentioned(*ix.upper, out);
  }
}

void mentioned(const ast::Stmt& s, std::set<std::string>& out) {
  for (const ast::ExprPtr* e : {&s.lhs, &s.rhs, &s.lower, &s.upper, &s.cond, &s.truncate_lower, &s.truncate_upper})
    if (*e) mentioned(**e, out);
  for (auto& a : s.args) mentioned(*a, out);
  if (s.decl) {
    out.insert(s.decl->name);
    if (s.decl->init) mentioned(*s.decl->init, out);
    for (auto& e : s.decl->sizes) mentioned(*e, out);
    for (auto& e : s.decl->array_sizes) mentioned(*e, out);
  }
  if (!s.loop_var.empty()) out.insert(s.loop_var);
  for (const ast::StmtPtr* b : {&s.body, &s.else_body})
    if (*b) mentioned(**b, out);
  for (auto& x : s.stmts) mentioned(*x, out);
}

// The statements of a body that run unconditionally, in order (blocks flattened).
std::vector<const ast::Stmt*> top_level(const ast::Stmt& body) {
  std::vector<const ast::Stmt*> order;
  std::function<void(const ast::Stmt&)> flatten = [&](const ast::Stmt& s) {
    if (s.kind == ast::StmtKind::Block)
      for (auto& x : s.stmts) flatten(*x);
    else
      order.push_back(&s);
  };
  flatten(body);
  return order;
}

// Whether the body of `inner` (a loop over k) assigns `name[k] = e` (one index,
// e not mentioning name) unconditionally before anything else mentions name:
// each element, hence the whole variable over the loop's range, is overwritten.
bool overwrites_each_element(const ast::Stmt& inner, const std::string& name) {
  std::vector<const ast::Stmt*> order = top_level(*inner.body);
  for (const ast::Stmt* s : order) {
    std::set<std::string> names;
    mentioned(*s, names);
    if (!names.count(name)) continue;
    if (s->kind != ast::StmtKind::Assign || s->op != "=" || s->lhs->kind != ast::ExprKind::Index) return false;
    const ast::Expr& lhs = *s->lhs;
    if (lhs.args[0]->kind != ast::ExprKind::Var || lhs.args[0]->name != name || lhs.indices.size() != 1) return false;
    const ast::Index& ix = lhs.indices[0];
    if (ix.kind != ast::Index::Kind::Single || !ix.lower || ix.lower->kind != ast::ExprKind::Var ||
        ix.lower->name != inner.loop_var)
      return false;
    std::set<std::string> read;
    mentioned(*s->rhs, read);
    return !read.count(name);
  }
  return false;
}

// The variables the body of `loop` overwrites in full before reading them, in
// every iteration: walking its unconditional top-level statements in order, a
// name is overwritten by `name = e;` (e not mentioning it) or by an inner `for`
// whose only mention of it is `name[k] = ...` with k that loop's variable (its
// bounds are checked by the lowerer). Anything else mentioning a name first
// makes it a candidate no more.
std::map<std::string, const ast::Stmt*> overwritten_first(const ast::Stmt& loop, const std::set<std::string>& declared) {
  std::map<std::string, const ast::Stmt*> out;
  std::set<std::string> settled;  // names whose first mention has been seen
  std::vector<const ast::Stmt*> order = top_level(*loop.body);
  for (const ast::Stmt* s : order) {
    std::set<std::string> names;
    mentioned(*s, names);
    if (s->kind == ast::StmtKind::Assign && s->op == "=" && s->lhs->kind == ast::ExprKind::Var) {
      std::set<std::string> read;
      mentioned(*s->rhs, read);
      const std::string& target = s->lhs->name;
      if (!settled.count(target) && !read.count(target)) out[target] = nullptr;
    } else if (s->kind == ast::StmtKind::For) {
      LoopPlan inner = plan_loop(*s);
      if (inner.symbolic)
        for (const std::string& name : inner.generated) {
          std::set<std::string> bounds;
          mentioned(*s->lower, bounds);
          mentioned(*s->upper, bounds);
          // The lowerer evaluates the bounds before the loop: they may not depend on it.
          bool outside = !bounds.count(loop.loop_var);
          for (const std::string& b : bounds) outside = outside && !declared.count(b) && b != name;
          if (!settled.count(name) && outside && overwrites_each_element(*s, name)) out[name] = s;
        }
    }
    settled.insert(names.begin(), names.end());
  }
  return out;
}

}  // namespace

// The expressions of a loop's varying sizes when its iterations may run in groups
// of equal sizes: the sizes read only the loop variable and data (nothing the body
// declares or assigns, no inner loop's variable), and the body carries nothing
// from one iteration to the next and defines nothing element-wise (what it
// assigns outside is an accumulator). Else empty.
static std::vector<const ast::Expr*> groupable_sizes(const ast::Stmt& for_stmt, const BodyScan& scan,
                                              const std::vector<const BodyScan::Size*>& varying) {
  std::set<std::string> assigned;
  for (auto& [name, uses] : scan.uses) {
    bool written = false, accumulator = true;
    for (auto& u : uses) {
      written = written || u.assigned;
      accumulator = accumulator && u.assigned && !u.indexed && (u.op == "+=" || u.op == "-=");
    }
    if (!written) continue;
    if (!scan.declared.count(name) && !accumulator) return {};
    assigned.insert(name);
  }
  std::vector<const ast::Expr*> exprs;
  for (const BodyScan::Size* size : varying) {
    for (const std::string& n : size->names)
      if (n != for_stmt.loop_var && (scan.declared.count(n) || assigned.count(n) || scan.inner_loop_vars.count(n)))
        return {};
    exprs.insert(exprs.end(), size->exprs.begin(), size->exprs.end());
  }
  return exprs;
}

LoopPlan plan_loop(const ast::Stmt& for_stmt) {
  LoopPlan plan;
  BodyScan scan(for_stmt.loop_var);
  scan.stmt(*for_stmt.body);
  if (!scan.blocker.empty()) {
    plan.symbolic = false;
    plan.why_unrolled = scan.blocker;
    return plan;
  }
  // Sizes that change: unrolled, or run in groups of equal sizes (classified below).
  std::vector<const BodyScan::Size*> varying_sizes = scan.varying_sizes();
  plan.breaks = scan.breaks;
  plan.continues = scan.continues;
  // After a masked break or continue the last iteration may not reach an
  // overwrite, so the value after the loop would be wrong: such variables are carried.
  std::map<std::string, const ast::Stmt*> overwritten;
  if (!plan.breaks && !plan.continues) overwritten = overwritten_first(for_stmt, scan.declared);
  // Also for symbolic plans: the lowerer may still find that a variable defined
  // element-wise is not covered by the loop's range, and then make it a Scan.
  plan.scannable = !scan.draws;
  std::set<std::string> assigned_in_body;
  for (auto& [name, uses] : scan.uses)
    for (auto& u : uses)
      if (u.assigned) assigned_in_body.insert(name);
  for (auto& [name, uses] : scan.uses) {
    if (scan.declared.count(name)) continue;
    bool assigned = false;
    for (auto& u : uses) assigned |= u.assigned;
    if (!assigned) continue;
    plan.carried.insert(name);
    bool accumulator = true, generated = true, windowed = true;
    int64_t window = 0;
    for (auto& u : uses) {
      accumulator &= u.assigned && (u.op == "+=" || u.op == "-=");
      generated &= u.indexed_by_loop;
      // Written at v[i] only and read at v[i - c]: a Scan's state needs a window of v, not all of it.
      windowed &= u.lag >= 0 && (!u.assigned || u.lag == 0);
      window = std::max(window, u.lag);
    }
    if (windowed && window <= kMaxWindow) plan.windows[name] = window;
    // Every use in one column c that the loop does not change: the Scan carries that column.
    const ast::Expr* column = uses.front().column;
    for (auto& u : uses) column = column && u.column && same_expr(*u.column, *column) ? column : nullptr;
    if (column) {
      std::set<std::string> names;
      mentioned(*column, names);
      bool fixed = !names.count(for_stmt.loop_var);
      for (const std::string& n : names)
        fixed = fixed && !scan.inner_loop_vars.count(n) && !scan.declared.count(n) && !assigned_in_body.count(n);
      if (fixed) plan.columns[name] = column;
    }
    // v[i] += ... (i the loop variable) defines v element-wise (below); v[k] += ...
    // with k anything else accumulates into v (the lowerer sums per element).
    if (accumulator && !generated) {
      plan.accumulated.insert(name);
    } else if (overwritten.count(name)) {
      plan.overwritten[name] = overwritten[name];
    } else if (generated) {
      plan.generated.insert(name);
    } else if (plan.symbolic) {
      plan.symbolic = false;
      plan.why_unrolled = "'" + name + "' carries a value from one iteration to the next";
    }
  }
  // A break carries its flag from one iteration to the next: a Scan.
  if (plan.breaks) {
    plan.carried.insert(kBroken);
    if (plan.symbolic) plan.why_unrolled = "it may break out of the loop";
    plan.symbolic = false;
  }
  if (scan.draws && !plan.symbolic) plan.why_unrolled += " and it makes draws";
  if (!varying_sizes.empty()) {
    bool independent = plan.symbolic && plan.generated.empty() && plan.overwritten.empty() && !scan.draws;
    if (independent) plan.size_exprs = groupable_sizes(for_stmt, scan, varying_sizes);
    plan.symbolic = false;
    plan.scannable = false;
    plan.why_unrolled = varying_sizes.front()->why;
  }
  return plan;
}

// ---- counted while loops -------------------------------------------------------------------

namespace {

// `counter += c`, `counter -= c`, `counter = counter + c`, `counter = c + counter`,
// `counter = counter - c` (c an int literal, maybe negated): the change, ±c; else nothing.
std::optional<int64_t> counter_step(const ast::Stmt& s, const std::string& counter) {
  auto literal = [](const ast::Expr* e, int64_t sign) -> std::optional<int64_t> {
    if (e->kind == ast::ExprKind::IntLit) return sign * e->int_value;
    if (e->kind == ast::ExprKind::Unary && e->name == "-" && e->args[0]->kind == ast::ExprKind::IntLit)
      return -sign * e->args[0]->int_value;
    return std::nullopt;
  };
  auto is_counter = [&](const ast::Expr* e) { return e->kind == ast::ExprKind::Var && e->name == counter; };
  if (s.kind != ast::StmtKind::Assign || !is_counter(s.lhs.get())) return std::nullopt;
  const ast::Expr* r = s.rhs.get();
  if (s.op == "+=" || s.op == "-=") return literal(r, s.op == "+=" ? 1 : -1);
  if (s.op != "=" || r->kind != ast::ExprKind::Binary) return std::nullopt;
  const ast::Expr* a = r->args[0].get();
  const ast::Expr* b = r->args[1].get();
  if (r->name == "+" && is_counter(a)) return literal(b, 1);
  if (r->name == "+" && is_counter(b)) return literal(a, 1);
  if (r->name == "-" && is_counter(a)) return literal(b, -1);
  return std::nullopt;
}

}  // namespace

std::optional<CountedWhile> counted_while(const ast::Stmt& w) {
  const ast::Expr& c = *w.cond;
  static const std::map<std::string, std::string> flipped{{"<", ">"}, {"<=", ">="}, {">", "<"}, {">=", "<="},
                                                           {"!=", "!="}};
  if (c.kind != ast::ExprKind::Binary || !flipped.count(c.name)) return std::nullopt;
  // How often the body assigns each variable (declarations and inner loops' variables: always changed).
  BodyScan scan("");
  scan.stmt(*w.body);
  // A continue could skip the counter's step; a break only ends the loop sooner.
  if (scan.continues || scan.returns) return std::nullopt;
  auto assignments = [&](const std::string& name) -> int64_t {
    if (scan.declared.count(name) || scan.inner_loop_vars.count(name)) return 2;
    auto it = scan.uses.find(name);
    return it == scan.uses.end() ? 0 : std::count_if(it->second.begin(), it->second.end(), [](const Use& u) { return u.assigned; });
  };
  // Try the counter on either side.
  for (int side = 0; side < 2; ++side) {
    const ast::Expr& var = *c.args[side];
    const ast::Expr& bound = *c.args[1 - side];
    if (var.kind != ast::ExprKind::Var || !var.type.is_int()) continue;
    std::set<std::string> in_bound;
    mentioned(bound, in_bound);
    bool bound_fixed = true;
    for (const std::string& n : in_bound) bound_fixed = bound_fixed && assignments(n) == 0;
    // One assignment to the counter in the whole body, unconditional (at the top level).
    if (!bound_fixed || assignments(var.name) != 1) continue;
    std::optional<int64_t> step;
    for (const ast::Stmt* s : top_level(*w.body))
      if (std::optional<int64_t> c_step = counter_step(*s, var.name)) step = c_step;
    if (!step || *step == 0) continue;
    return CountedWhile{var.name, *step, side == 0 ? c.name : flipped.at(c.name), &bound, scan.breaks};
  }
  return std::nullopt;
}

}  // namespace latent
