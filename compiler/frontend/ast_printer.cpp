#include "compiler/frontend/ast_printer.hpp"

#include <sstream>

namespace latent::ast {

namespace {

class Printer {
 public:
  std::string program(const Program& p) {
    for (const Block& b : p.blocks) {
      out_ << block_name(b.kind) << " {\n";
      if (b.kind == BlockKind::Guide && !b.layers.empty()) {
        out_ << "  network {\n";
        layers(b.layers, 2);
        out_ << "  }\n";
      } else {
        layers(b.layers, 1);
      }
      for (const FunctionDef& f : b.functions) function(f);
      for (const auto& s : b.stmts) stmt(*s, 1);
      out_ << "}\n";
    }
    return out_.str();
  }

 private:
  void function(const FunctionDef& f) {
    indent(1);
    out_ << f.return_type.str() << " " << f.name << "(";
    for (size_t i = 0; i < f.args.size(); ++i)
      out_ << (i ? ", " : "") << (f.args[i].data_only ? "data " : "") << f.args[i].type.str() << " " << f.args[i].name;
    out_ << ")";
    if (!f.body) {
      out_ << ";\n";
      return;
    }
    body(*f.body, 1);
    out_ << "\n";
  }

  void indent(int depth) { out_ << std::string(static_cast<size_t>(2 * depth), ' '); }

  void layers(const std::vector<LayerDecl>& layers, int depth) {
    for (const LayerDecl& l : layers) {
      indent(depth);
      out_ << l.kind << " " << l.name << "(" << list(l.args) << ");\n";
    }
  }

  static std::string typed(const std::string& text, const Type& t) {
    return t.is_error() ? text : "(" + text + " : " + t.str() + ")";
  }

  std::string list(const std::vector<ExprPtr>& args, size_t from = 0) {
    std::string s;
    for (size_t i = from; i < args.size(); ++i) s += (i > from ? ", " : "") + expr(*args[i]);
    return s;
  }

  std::string index(const Index& ix) {
    switch (ix.kind) {
      case Index::Kind::Single: return expr(*ix.lower);
      case Index::Kind::All: return ":";
      case Index::Kind::Range:
        return (ix.lower ? expr(*ix.lower) : "") + ":" + (ix.upper ? expr(*ix.upper) : "");
    }
    return "?";
  }

  std::string expr(const Expr& e) {
    switch (e.kind) {
      case ExprKind::IntLit: return std::to_string(e.int_value);
      case ExprKind::RealLit: {
        std::ostringstream s;
        s.precision(17);
        s << e.real_value;
        std::string t = s.str();
        return t.find_first_of(".eEn") == std::string::npos ? t + ".0" : t;
      }
      case ExprKind::StringLit: return "\"" + e.name + "\"";
      case ExprKind::Var: return e.name;
      case ExprKind::Unary: return typed(e.name + expr(*e.args[0]), e.type);
      case ExprKind::Binary: return typed(expr(*e.args[0]) + " " + e.name + " " + expr(*e.args[1]), e.type);
      case ExprKind::Transpose: return typed(expr(*e.args[0]) + "'", e.type);
      case ExprKind::Ternary:
        return typed(expr(*e.args[0]) + " ? " + expr(*e.args[1]) + " : " + expr(*e.args[2]), e.type);
      case ExprKind::Call: {
        std::string args = e.conditional_bar && !e.args.empty()
                               ? expr(*e.args[0]) + (e.args.size() > 1 ? " | " + list(e.args, 1) : " |")
                               : list(e.args);
        return typed(e.name + "(" + args + ")", e.type);
      }
      case ExprKind::Index: {
        std::string s = expr(*e.args[0]) + "[";
        for (size_t i = 0; i < e.indices.size(); ++i) s += (i ? ", " : "") + index(e.indices[i]);
        return typed(s + "]", e.type);
      }
      case ExprKind::ArrayLit: return typed("{" + list(e.args) + "}", e.type);
      case ExprKind::RowVectorLit: return typed("[" + list(e.args) + "]", e.type);
    }
    return "?";
  }

  void decl(const VarDecl& d, int depth) {
    indent(depth);
    const Constraint& c = d.constraint;
    std::string constraint;
    auto bound = [&](const char* name, const ExprPtr& e) {
      if (e) constraint += (constraint.empty() ? "" : ", ") + std::string(name) + "=" + expr(*e);
    };
    bound("lower", c.lower);
    bound("upper", c.upper);
    bound("offset", c.offset);
    bound("multiplier", c.multiplier);
    if (d.plate) constraint = "plate";
    if (d.init_scheme == "bound") bound("init", d.init_bound);
    else if (!d.init_scheme.empty()) constraint += (constraint.empty() ? "init=" : ", init=") + d.init_scheme;
    if (!d.array_sizes.empty()) out_ << "array[" << list(d.array_sizes) << "] ";
    static const char* bases[] = {"int", "real", "vector", "row_vector", "matrix", "simplex", "cholesky_factor_corr", "ordered", "positive_ordered",
                                  "corr_matrix", "cov_matrix", "cholesky_factor_cov", "unit_vector",
                                  "sum_to_zero_vector"};
    out_ << bases[static_cast<int>(d.base)];
    if (!constraint.empty()) out_ << "<" << constraint << ">";
    if (!d.sizes.empty()) out_ << "[" << list(d.sizes) << "]";
    out_ << " " << d.name;
    if (d.init) out_ << " = " << expr(*d.init);
    out_ << ";";
    if (!d.type.is_error()) out_ << "  // " << d.type.str();
    out_ << "\n";
  }

  void body(const Stmt& s, int depth) {
    if (s.kind == StmtKind::Block) {
      out_ << " {\n";
      for (const auto& t : s.stmts) stmt(*t, depth + 1);
      indent(depth);
      out_ << "}";
    } else {
      out_ << "\n";
      stmt(s, depth + 1);
      indent(depth);
    }
  }

  void stmt(const Stmt& s, int depth) {
    if (s.kind == StmtKind::Decl) return decl(*s.decl, depth);
    indent(depth);
    switch (s.kind) {
      case StmtKind::Decl: break;
      case StmtKind::Assign: out_ << expr(*s.lhs) << " " << s.op << " " << expr(*s.rhs) << ";\n"; return;
      case StmtKind::Tilde:
        out_ << expr(*s.lhs) << " ~ " << s.dist << "(" << list(s.args) << ")";
        if (s.truncated)
          out_ << " T[" << (s.truncate_lower ? expr(*s.truncate_lower) : "") << ", "
               << (s.truncate_upper ? expr(*s.truncate_upper) : "") << "]";
        out_ << ";\n";
        return;
      case StmtKind::TargetPlus: out_ << "target += " << expr(*s.rhs) << ";\n"; return;
      case StmtKind::For:
        out_ << "for (" << s.loop_var << " in " << expr(*s.lower) << ":" << expr(*s.upper) << ")";
        body(*s.body, depth);
        out_ << "\n";
        return;
      case StmtKind::Foreach:
        out_ << "for (" << s.loop_var << " in " << expr(*s.lower) << ")";
        body(*s.body, depth);
        out_ << "\n";
        return;
      case StmtKind::While:
        out_ << "while (" << expr(*s.cond) << ")";
        body(*s.body, depth);
        out_ << "\n";
        return;
      case StmtKind::If:
        out_ << "if (" << expr(*s.cond) << ")";
        body(*s.body, depth);
        if (s.else_body) {
          out_ << (s.body->kind == StmtKind::Block ? " else" : "else");
          body(*s.else_body, depth);
        }
        out_ << "\n";
        return;
      case StmtKind::Block:
        out_ << "{\n";
        for (const auto& t : s.stmts) stmt(*t, depth + 1);
        indent(depth);
        out_ << "}\n";
        return;
      case StmtKind::Print: out_ << "print(" << list(s.args) << ");\n"; return;
      case StmtKind::Reject: out_ << "reject(" << list(s.args) << ");\n"; return;
      case StmtKind::Break: out_ << "break;\n"; return;
      case StmtKind::Continue: out_ << "continue;\n"; return;
      case StmtKind::Return: out_ << "return" << (s.rhs ? " " + expr(*s.rhs) : "") << ";\n"; return;
      case StmtKind::Expression: out_ << expr(*s.rhs) << ";\n"; return;
      case StmtKind::Empty: out_ << ";\n"; return;
    }
  }

  std::ostringstream out_;
};

}  // namespace

std::string print_program(const Program& program) { return Printer().program(program); }

}  // namespace latent::ast
