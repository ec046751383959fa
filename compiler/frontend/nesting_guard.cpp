// A guard against inputs nested deeply enough to overflow the stack.
//
// The ANTLR parser, the AST builder and every later pass over the AST are
// recursive, so their stack use grows with the nesting depth of the program.
// A user error must never crash the compiler, so before parsing we scan the
// tokens (a flat loop) and refuse programs whose nesting depth could exceed a
// fixed limit. The scan estimates depth from above:
//
//   - each open bracket ( [ { is one level; more than kMaxBracketDepth open at
//     once is an error ("expression nested too deeply");
//   - inside one bracket level, a chain of operators (a + b + c ..., - - - x,
//     a ^ b ^ c ..., a ? b : c ? d : ..., a[1][2]...) builds a tree as deep as
//     the chain is long, and so do control statements without braces
//     (if (a) for (...) while (...) x;) and else-if chains. The chain length is
//     counted per bracket level and restarts where a new independent subtree
//     begins: after ',' and after a statement (';' or a statement block's '}')
//     that is not followed by 'else'.
//
// The estimate (open brackets + the chains of all open levels) must stay below
// kMaxNestingEstimate. The guard is fed while lexing, so that a huge input is
// refused as soon as the limit is crossed rather than after lexing all of it. It over-counts (a + b * c counts 2 although the tree is
// 2 deep, which is right; a * b + c * d counts 3 for a depth of 2), which only
// matters for single expressions with thousands of operators.
#include "compiler/frontend/parse_detail.hpp"

namespace latent::parse_detail {

namespace {

bool is_open(size_t t) {
  return t == LatentParser::LPAREN || t == LatentParser::LBRACK || t == LatentParser::LBRACE;
}
bool is_close(size_t t) {
  return t == LatentParser::RPAREN || t == LatentParser::RBRACK || t == LatentParser::RBRACE;
}

// Tokens that add one level to the tree of the construct they appear in.
bool adds_level(size_t t) {
  switch (t) {
    case LatentParser::OR: case LatentParser::AND: case LatentParser::EQ: case LatentParser::NEQ:
    case LatentParser::LT: case LatentParser::LEQ: case LatentParser::GT: case LatentParser::GEQ:
    case LatentParser::PLUS: case LatentParser::MINUS: case LatentParser::TIMES:
    case LatentParser::DIVIDE: case LatentParser::MODULO: case LatentParser::LDIVIDE:
    case LatentParser::IDIVIDE: case LatentParser::ELT_TIMES: case LatentParser::ELT_DIVIDE:
    case LatentParser::HAT: case LatentParser::ELT_POW: case LatentParser::BANG:
    case LatentParser::TRANSPOSE: case LatentParser::QMARK:
    case LatentParser::IF: case LatentParser::ELSE: case LatentParser::FOR: case LatentParser::WHILE:
      return true;
    default: return false;
  }
}

// Tokens after which a '[' is an index applied to an operand (a[i], f(x)[i], a'[i]).
bool ends_operand(size_t t) {
  return t == LatentParser::IDENT || t == LatentParser::RPAREN || t == LatentParser::RBRACK ||
         t == LatentParser::RBRACE || t == LatentParser::TRANSPOSE;
}

// Tokens after which a '{' opens a statement block rather than an array literal.
bool precedes_block(size_t t) {
  return t == LatentParser::RPAREN || t == LatentParser::ELSE || t == LatentParser::LBRACE ||
         t == LatentParser::RBRACE || t == LatentParser::SEMI || t == LatentParser::IDENT ||
         t == LatentParser::FUNCTIONS;
}

}  // namespace

std::optional<Diagnostic> NestingGuard::feed(const antlr4::Token* token) {
  const size_t t = token->getType();
  if (pending_restart_ && t != LatentParser::ELSE) restart_chain();  // the statement really ended
  pending_restart_ = false;

  if (is_open(t)) {
    if (t == LatentParser::LBRACK && ends_operand(previous_)) add_to_chain();  // indexing nests
    levels_.push_back({0, t == LatentParser::LBRACE && (previous_ == antlr4::Token::INVALID_TYPE ||
                                                        precedes_block(previous_))});
    if (static_cast<int>(levels_.size()) - 1 > kMaxBracketDepth)
      return Diagnostic{loc_of(token), "expression nested too deeply (more than " +
                                           std::to_string(kMaxBracketDepth) + " levels)"};
  } else if (is_close(t)) {
    if (levels_.size() > 1) {
      const bool block = levels_.back().block;
      chains_ -= levels_.back().chain;
      levels_.pop_back();
      pending_restart_ = block;  // a block statement ended, unless 'else' follows
    }
  } else if (t == LatentParser::SEMI) {
    pending_restart_ = true;  // a statement ended, unless 'else' follows
  } else if (t == LatentParser::COMMA) {
    restart_chain();
  } else if (adds_level(t)) {
    add_to_chain();
  }
  previous_ = t;

  const long estimate = static_cast<long>(levels_.size()) - 1 + chains_;
  if (estimate > kMaxNestingEstimate)
    return Diagnostic{loc_of(token), "expression or statement nested too deeply (more than " +
                                         std::to_string(kMaxNestingEstimate) +
                                         " levels of operators, brackets and control statements); "
                                         "split it into smaller parts"};
  return std::nullopt;
}

void NestingGuard::add_to_chain() {
  ++levels_.back().chain;
  ++chains_;
}

void NestingGuard::restart_chain() {
  chains_ -= levels_.back().chain;
  levels_.back().chain = 0;
}

}  // namespace latent::parse_detail
