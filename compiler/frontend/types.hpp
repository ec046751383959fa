// Stan's static types: a scalar or linear-algebra base with array dimensions.
//
// Sizes are not part of the static type (they are known only when data is
// bound); shape errors are reported by lowering, with the expression's location.
#pragma once

#include <string>

namespace latent {

enum class Base { Error, Void, Int, Real, Vector, RowVector, Matrix, String };

struct Type {
  Base base = Base::Error;
  int array_dims = 0;  // array[a, b] real -> 2

  static Type error() { return {Base::Error, 0}; }
  static Type void_() { return {Base::Void, 0}; }
  static Type int_(int dims = 0) { return {Base::Int, dims}; }
  static Type real(int dims = 0) { return {Base::Real, dims}; }
  static Type vector(int dims = 0) { return {Base::Vector, dims}; }
  static Type row_vector(int dims = 0) { return {Base::RowVector, dims}; }
  static Type matrix(int dims = 0) { return {Base::Matrix, dims}; }

  bool is_error() const { return base == Base::Error; }
  bool is_int() const { return base == Base::Int && array_dims == 0; }
  bool is_real() const { return base == Base::Real && array_dims == 0; }
  bool is_scalar() const { return (base == Base::Int || base == Base::Real) && array_dims == 0; }
  bool is_int_valued() const { return base == Base::Int; }  // int or array of int
  bool is_linear_algebra() const {
    return array_dims == 0 && (base == Base::Vector || base == Base::RowVector || base == Base::Matrix);
  }
  // The type of one element after a single index: array dim first, then row/element.
  Type element() const;
  bool operator==(const Type& o) const { return base == o.base && array_dims == o.array_dims; }
  bool operator!=(const Type& o) const { return !(*this == o); }
  // Stan spelling: "real", "vector", "array[,] int", ...
  std::string str() const;
};

// May a value of type `from` be assigned/passed where `to` is expected (int -> real promotion)?
bool assignable(const Type& to, const Type& from);

}  // namespace latent
