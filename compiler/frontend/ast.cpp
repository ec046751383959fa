#include "compiler/frontend/ast.hpp"

namespace latent::ast {

const char* block_name(BlockKind kind) {
  switch (kind) {
    case BlockKind::Functions: return "functions";
    case BlockKind::Data: return "data";
    case BlockKind::TransformedData: return "transformed data";
    case BlockKind::Parameters: return "parameters";
    case BlockKind::TransformedParameters: return "transformed parameters";
    case BlockKind::Network: return "network";
    case BlockKind::Model: return "model";
    case BlockKind::Guide: return "guide";
    case BlockKind::GeneratedQuantities: return "generated quantities";
  }
  return "?";
}

const Block* Program::find(BlockKind kind) const {
  for (const auto& b : blocks)
    if (b.kind == kind) return &b;
  return nullptr;
}

}  // namespace latent::ast
