#include "runtime/model/plate.hpp"

#include "common/source.hpp"
#include "data/data_source.hpp"

#include <cstdio>

namespace latent {

namespace {

// An integral double as digits ("4294967296"); beyond 2^53, where the number read
// may differ from the file's digits, its magnitude ("about 9.22e+18").
std::string format_count(double v) {
  char buf[64];
  if (v > 9007199254740992.0)
    std::snprintf(buf, sizeof buf, "about %.3g", v);
  else
    std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

}  // namespace

PlateInfo plate_of(const ast::Program& program) {
  PlateInfo out;
  const ast::Block* data = program.find(ast::BlockKind::Data);
  if (!data) return out;
  for (const auto& s : data->stmts) {
    if (s->kind != ast::StmtKind::Decl) continue;
    const ast::VarDecl& d = *s->decl;
    out.data.push_back(d.name);
    if (d.plate) out.name = d.name;
    const auto& sizes = d.array_sizes.empty() ? d.sizes : d.array_sizes;
    if (!out.name.empty() && !sizes.empty() && sizes[0]->kind == ast::ExprKind::Var && sizes[0]->name == out.name)
      out.fields.push_back(d.name);
  }
  return out;
}

DataSet batch_view(const PlateInfo& plate, const DataSource& data, const std::vector<int64_t>& rows) {
  DataSet view = data.view(plate.data, plate.fields, rows);
  if (!plate.name.empty()) view.set(plate.name, DataValue{{}, {static_cast<double>(rows.size())}, true});
  return view;
}

int64_t plate_rows(const PlateInfo& plate, const DataSource& data) {
  if (plate.name.empty()) return 1;
  if (!data.has(plate.name))
    throw UserError(data.source() + ": field '" + plate.name + "' is missing (the plate, declared in the data block as "
                    "int<plate> " + plate.name + ")\n");
  DataValue n = data.read(plate.name);
  if (!n.dims.empty() || !n.all_int || n.values.at(0) < 1)
    throw UserError(data.source() + ": field '" + plate.name + "' (the plate) must be a positive integer\n");
  if (n.values[0] > static_cast<double>(kMaxPlateRows))
    throw UserError(data.source() + ": field '" + plate.name + "' (the plate) is " + format_count(n.values[0]) +
                    "; at most " + std::to_string(kMaxPlateRows) + " data points are supported\n");
  const int64_t rows = static_cast<int64_t>(n.values[0]);
  for (const std::string& f : plate.fields) {
    if (!data.has(f)) continue;  // reported by the data checks when lowering
    auto dims = data.dims(f);
    if (dims.empty() || dims[0] != rows)
      throw UserError(data.source() + ": field '" + f + "' has " + std::to_string(dims.empty() ? 0 : dims[0]) +
                      " rows, but the plate '" + plate.name + "' is " + std::to_string(rows) + "\n");
  }
  return rows;
}

}  // namespace latent
