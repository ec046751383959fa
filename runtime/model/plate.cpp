#include "runtime/model/plate.hpp"

namespace latent {

PlateInfo plate_of(const ast::Program& program) {
  PlateInfo out;
  const ast::Block* data = program.find(ast::BlockKind::Data);
  if (!data) return out;
  for (const auto& s : data->stmts) {
    if (s->kind != ast::StmtKind::Decl) continue;
    const ast::VarDecl& d = *s->decl;
    if (d.plate) out.name = d.name;
    const auto& sizes = d.array_sizes.empty() ? d.sizes : d.array_sizes;
    if (!out.name.empty() && !sizes.empty() && sizes[0]->kind == ast::ExprKind::Var && sizes[0]->name == out.name)
      out.fields.push_back(d.name);
  }
  return out;
}

}  // namespace latent
