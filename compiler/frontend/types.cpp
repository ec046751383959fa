#include "compiler/frontend/types.hpp"

namespace latent {

Type Type::element() const {
  if (array_dims > 0) return {base, array_dims - 1};
  switch (base) {
    case Base::Vector:
    case Base::RowVector: return Type::real();
    case Base::Matrix: return Type::row_vector();
    default: return Type::error();
  }
}

std::string Type::str() const {
  std::string b;
  switch (base) {
    case Base::Error: return "<error>";
    case Base::Void: return "void";
    case Base::Int: b = "int"; break;
    case Base::Real: b = "real"; break;
    case Base::Vector: b = "vector"; break;
    case Base::RowVector: b = "row_vector"; break;
    case Base::Matrix: b = "matrix"; break;
    case Base::String: b = "string"; break;
  }
  if (array_dims == 0) return b;
  return "array[" + std::string(array_dims - 1, ',') + "] " + b;
}

bool assignable(const Type& to, const Type& from) {
  if (to == from) return true;
  return to.base == Base::Real && from.base == Base::Int && to.array_dims == from.array_dims;
}

}  // namespace latent
