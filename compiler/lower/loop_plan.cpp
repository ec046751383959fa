#include "compiler/lower/loop_plan.hpp"

#include <functional>
#include <map>
#include <vector>

namespace latent {

namespace {

std::string function_blocker(const ast::FunctionDef& f);

struct Use {
  bool assigned = false;
  std::string op;                 // assignment operator when assigned
  bool indexed_by_loop = false;   // first index is exactly the loop variable
  bool indexed = false;
};

class BodyScan {
 public:
  explicit BodyScan(std::string loop_var) : loop_var_(std::move(loop_var)) {}

  std::map<std::string, std::vector<Use>> uses;
  std::set<std::string> declared;
  std::string blocker;  // non-empty: must unroll

  void stmt(const ast::Stmt& s) {
    using K = ast::StmtKind;
    switch (s.kind) {
      case K::Decl:
        declared.insert(s.decl->name);
        for (auto& e : s.decl->sizes) expr(*e);
        for (auto& e : s.decl->array_sizes) expr(*e);
        if (s.decl->init) expr(*s.decl->init);
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
        }
        uses[root->name].push_back(u);
        for (auto* level : index_levels)
          for (auto& ix : level->indices) index(ix);
        expr(*s.rhs);
        break;
      }
      case K::Tilde:
        expr(*s.lhs);
        for (auto& a : s.args) expr(*a);
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
        if (s.kind == K::For) {
          LoopPlan inner = plan_loop(s);
          if (!inner.symbolic) blocker = "a nested loop is unrolled (" + inner.why_unrolled + ")";
        } else {
          blocker = "it contains a foreach loop";
        }
        stmt(*s.body);
        break;
      }
      case K::While: blocker = "it contains a while loop"; stmt(*s.body); expr(*s.cond); break;
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
      case K::Continue: blocker = "it contains break or continue"; break;
      case K::Return: blocker = "it contains return"; break;
      case K::Empty: break;
    }
  }

 private:
  bool first_index_is_loop_var(const ast::Expr& index_expr) const {
    if (index_expr.indices.empty()) return false;
    const ast::Index& first = index_expr.indices[0];
    return first.kind == ast::Index::Kind::Single && first.lower && first.lower->kind == ast::ExprKind::Var &&
           first.lower->name == loop_var_;
  }

  void index(const ast::Index& ix) {
    if (ix.lower) expr(*ix.lower);
    if (ix.upper) expr(*ix.upper);
  }

  void expr(const ast::Expr& e) {
    if (e.kind == ast::ExprKind::Var) {
      uses[e.name].push_back(Use{});
      return;
    }
    if (e.kind == ast::ExprKind::Call && e.name == "target") blocker = "it reads target()";
    if (e.kind == ast::ExprKind::Call && e.function)
      if (std::string why = function_blocker(*e.function); !why.empty()) blocker = why;
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
        uses[root->name].push_back(u);
      } else {
        expr(*root);
      }
      for (auto* level : levels)
        for (auto& ix : level->indices) index(ix);
      return;
    }
    for (auto& a : e.args) expr(*a);
    for (auto& ix : e.indices) index(ix);
  }

  std::string loop_var_;
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
    for (const ast::ExprPtr* e : {&s.lhs, &s.rhs, &s.lower, &s.upper, &s.cond})
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

}  // namespace

LoopPlan plan_loop(const ast::Stmt& for_stmt) {
  LoopPlan plan;
  BodyScan scan(for_stmt.loop_var);
  scan.stmt(*for_stmt.body);
  if (!scan.blocker.empty()) {
    plan.symbolic = false;
    plan.why_unrolled = scan.blocker;
    return plan;
  }
  for (auto& [name, uses] : scan.uses) {
    if (scan.declared.count(name)) continue;
    bool assigned = false;
    for (auto& u : uses) assigned |= u.assigned;
    if (!assigned) continue;
    bool accumulator = true, generated = true;
    for (auto& u : uses) {
      accumulator &= u.assigned && !u.indexed && (u.op == "+=" || u.op == "-=");
      generated &= u.indexed_by_loop;
    }
    if (accumulator) {
      plan.accumulated.insert(name);
    } else if (generated) {
      plan.generated.insert(name);
    } else {
      plan.symbolic = false;
      plan.why_unrolled = "'" + name + "' carries a value from one iteration to the next";
      return plan;
    }
  }
  return plan;
}

}  // namespace latent
