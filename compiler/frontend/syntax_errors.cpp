// Everything that turns malformed input into readable diagnostics before an AST
// exists: the encoding check, the lexer's error tokens, and an ANTLR error
// strategy that rewrites ANTLR's recovery events into short messages.
//
// Message style: "unexpected 'x'" names what was found; ", expected ';'" is added
// only when the set of acceptable tokens is small enough to be useful (at most
// four items after grouping: "an expression", "a type", "a statement").
// A missing ';' (or ')' ...) is reported just after the previous token when the
// next token is on a later line, since that is where the user has to type it.
#include "compiler/frontend/parse_detail.hpp"

#include "LatentLexer.h"

#include <algorithm>
#include <cstdio>
#include <set>

namespace latent::parse_detail {

using latent_grammar::LatentLexer;

namespace {

constexpr int kMaxSyntaxErrors = 10;

// Number of code points in a UTF-8 string (ANTLR columns count code points).
int utf8_length(const std::string& s) {
  int n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

// Shortens a token's text for a message.
std::string shorten(std::string text) {
  if (utf8_length(text) > 24) {
    size_t cut = 21;
    while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) ++cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

std::string quote(const std::string& text) { return "'" + shorten(text) + "'"; }

std::string token_display(const antlr4::Token* token) {
  if (token == nullptr || token->getType() == antlr4::Token::EOF) return "end of file";
  return quote(token->getText());
}

// The name of a token type in an "expected ..." list.
std::string token_type_name(ssize_t type, const antlr4::dfa::Vocabulary& vocab) {
  switch (type) {
    case -1: return "end of file";  // antlr4::Token::EOF in an IntervalSet
    case LatentParser::IDENT: return "a name";
    case LatentParser::INT_LIT: return "an integer";
    case LatentParser::REAL_LIT: return "a real number";
    case LatentParser::STRING: return "a string";
    default: break;
  }
  std::string literal = vocab.getLiteralName(type);
  return literal.empty() ? vocab.getDisplayName(type) : literal;
}

// Token types that begin an expression.
const std::set<ssize_t> kExpressionStart = {
    LatentParser::IDENT,  LatentParser::INT_LIT, LatentParser::REAL_LIT, LatentParser::LPAREN,
    LatentParser::LBRACE, LatentParser::LBRACK,  LatentParser::MINUS,    LatentParser::PLUS,
    LatentParser::BANG,   LatentParser::TARGET};

// Token types that continue an expression (binary and postfix operators).
const std::set<ssize_t> kOperators = {
    LatentParser::OR,        LatentParser::AND,        LatentParser::EQ,     LatentParser::NEQ,
    LatentParser::LT,        LatentParser::LEQ,        LatentParser::GT,     LatentParser::GEQ,
    LatentParser::PLUS,      LatentParser::MINUS,      LatentParser::TIMES,  LatentParser::DIVIDE,
    LatentParser::MODULO,    LatentParser::LDIVIDE,    LatentParser::IDIVIDE,
    LatentParser::ELT_TIMES, LatentParser::ELT_DIVIDE, LatentParser::HAT,    LatentParser::ELT_POW,
    LatentParser::TRANSPOSE, LatentParser::LBRACK,     LatentParser::QMARK};

// Token types that begin a statement (besides expressions) or a declaration.
const std::set<ssize_t> kStatementStart = {
    LatentParser::FOR,   LatentParser::WHILE,    LatentParser::IF,     LatentParser::PRINT,
    LatentParser::REJECT, LatentParser::BREAK,   LatentParser::CONTINUE, LatentParser::RETURN,
    LatentParser::TARGET, LatentParser::LBRACE,  LatentParser::SEMI,   LatentParser::ARRAY,
    LatentParser::VOID};

bool is_type_keyword(ssize_t type) {
  return type >= LatentParser::INT && type <= LatentParser::COMPLEX_MATRIX;
}

// "an expression, ';' or ')'"; "" when the set is too large to help.
std::string describe_expected(const antlr4::misc::IntervalSet& expected,
                              const antlr4::dfa::Vocabulary& vocab) {
  std::set<ssize_t> set;
  for (ssize_t t : expected.toList()) set.insert(t);
  auto has = [&](ssize_t t) { return set.count(t) > 0; };
  auto remove_if = [&](auto pred) {
    for (auto it = set.begin(); it != set.end();) it = pred(*it) ? set.erase(it) : std::next(it);
  };

  std::vector<std::string> items;
  const bool statement = has(LatentParser::FOR) && has(LatentParser::IF);
  const bool type = has(LatentParser::INT) && has(LatentParser::REAL);
  const bool expression = has(LatentParser::IDENT) && has(LatentParser::INT_LIT) && has(LatentParser::LPAREN);
  const bool operators = has(LatentParser::TIMES) || has(LatentParser::OR) || has(LatentParser::EQ);
  if (statement) {
    items.push_back("a statement");
    remove_if([](ssize_t t) {
      return kStatementStart.count(t) || kExpressionStart.count(t) || is_type_keyword(t);
    });
  } else {
    if (type) {
      items.push_back("a type");
      remove_if([](ssize_t t) { return is_type_keyword(t) || t == LatentParser::ARRAY; });
    }
    if (expression) {
      items.push_back("an expression");
      remove_if([](ssize_t t) { return kExpressionStart.count(t) > 0; });
    }
  }
  // After a complete expression every operator could follow; listing them only
  // hides the one token the user most likely forgot.
  if (operators) remove_if([](ssize_t t) { return kOperators.count(t) > 0; });
  for (ssize_t t : set) items.push_back(token_type_name(t, vocab));

  if (items.empty() || items.size() > 4) return "";
  std::string out = items[0];
  for (size_t i = 1; i < items.size(); ++i) out += (i + 1 == items.size() ? " or " : ", ") + items[i];
  return out;
}

// What the parser was reading, for "expected ';' after <what>".
const char* construct_name(antlr4::Parser* parser) {
  for (antlr4::RuleContext* ctx = parser->getContext(); ctx != nullptr;
       ctx = dynamic_cast<antlr4::RuleContext*>(ctx->parent)) {
    switch (ctx->getRuleIndex()) {
      case LatentParser::RuleVarDecl: return "declaration";
      case LatentParser::RuleStatement: return "statement";
      case LatentParser::RuleFunctionDef: return "function";
      default: break;
    }
  }
  return nullptr;
}

// True while reading the program's list of blocks or a block's header (before
// its '{'), where "expected a name" would not help anyone.
bool at_top_level(antlr4::Parser* parser) {
  auto* ctx = dynamic_cast<antlr4::ParserRuleContext*>(parser->getContext());
  if (ctx == nullptr || ctx->getRuleIndex() == LatentParser::RuleProgram) return true;
  if (ctx->getRuleIndex() != LatentParser::RuleTopBlock) return false;
  return ctx->getToken(LatentParser::LBRACE, 0) == nullptr;
}

// The innermost '{' that the parser has read but not yet closed, if any.
antlr4::Token* unclosed_brace(antlr4::Parser* parser) {
  for (auto* ctx = dynamic_cast<antlr4::ParserRuleContext*>(parser->getContext()); ctx != nullptr;
       ctx = dynamic_cast<antlr4::ParserRuleContext*>(ctx->parent)) {
    auto* open = ctx->getToken(LatentParser::LBRACE, 0);
    if (open != nullptr && ctx->getToken(LatentParser::RBRACE, 0) == nullptr) return open->getSymbol();
  }
  return nullptr;
}

// "unexpected end of file, expected X" (naming the '{' left open, if that is it).
std::string end_of_file_message(antlr4::Parser* parser, const std::string& wanted) {
  std::string message = "unexpected end of file";
  antlr4::Token* open = nullptr;
  if ((wanted.empty() || wanted.find("'}'") != std::string::npos) && (open = unclosed_brace(parser))) {
    const SourceLoc at = loc_of(open);
    return message + ": the '{' at line " + std::to_string(at.line) + ", column " + std::to_string(at.column) +
           " is never closed";
  }
  return wanted.empty() ? message : message + ", expected " + wanted;
}

// True when `wanted` (a describe_expected result) lists ';' explicitly.
bool wants_semicolon(const std::string& wanted) { return wanted.find("';'") != std::string::npos; }

// "U+0007" for control characters, the character itself otherwise.
std::string char_display(const std::string& text) {
  unsigned char c = text.empty() ? 0 : static_cast<unsigned char>(text[0]);
  if (text.size() == 1 && (c < 0x20 || c == 0x7F)) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", c);
    return buf;
  }
  return quote(text);
}

}  // namespace

// ---- locations ----

SourceLoc loc_of(const antlr4::Token* token) {
  if (token == nullptr) return {};
  return {static_cast<int>(token->getLine()), static_cast<int>(token->getCharPositionInLine()) + 1};
}

SourceLoc loc_after(const antlr4::Token* token) {
  SourceLoc loc = loc_of(token);
  if (token != nullptr && token->getType() != antlr4::Token::EOF) loc.column += utf8_length(token->getText());
  return loc;
}

// ---- encoding ----

void check_encoding(const SourceFile& file, DiagnosticList& diags) {
  const std::string& s = file.text;
  int line = 1, column = 1;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      diags.error({line, column}, "the file contains a NUL byte: is this a binary file rather than a model?");
      return;
    }
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (valid && len > 1) {
      // Reject overlong forms, surrogates and code points above U+10FFFF.
      unsigned cp = c & (0x7F >> len);
      for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
      static const unsigned kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      valid = cp >= kMin[len] && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (!valid) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02X", c);
      diags.error({line, column}, std::string("invalid UTF-8 byte ") + buf +
                                      ": model files must be UTF-8 text (is this a binary file?)");
      return;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
    i += len;
  }
}

// ---- lexical errors ----

void check_lexical_errors(const std::vector<antlr4::Token*>& tokens, DiagnosticList& diags) {
  int reported = 0;
  auto add = [&](SourceLoc loc, std::string message) {
    if (reported++ < kMaxSyntaxErrors) diags.error(loc, std::move(message));
  };
  for (size_t i = 0; i < tokens.size(); ++i) {
    const antlr4::Token* t = tokens[i];
    switch (t->getType()) {
      case LatentLexer::ERROR_CHAR: {
        // Merge a run of adjacent stray characters on one line into one message.
        std::string run = t->getText();
        size_t j = i + 1;
        while (j < tokens.size() && tokens[j]->getType() == LatentLexer::ERROR_CHAR &&
               tokens[j]->getLine() == t->getLine() &&
               tokens[j]->getStartIndex() == tokens[j - 1]->getStopIndex() + 1)
          run += tokens[j++]->getText();
        const bool several = j - i > 1;
        add(loc_of(t), several ? "unexpected characters " + quote(run)
                               : "unexpected character " + char_display(run));
        i = j - 1;
        break;
      }
      case LatentLexer::UNTERMINATED_COMMENT:
        add(loc_of(t), "unterminated comment: '/*' without a closing '*/'");
        break;
      case LatentLexer::UNTERMINATED_STRING:
        add(loc_of(t), "unterminated string: missing the closing '\"' on this line");
        break;
      case LatentLexer::INCLUDE:
        add(loc_of(t), "#include is not supported: paste the included code into the model");
        break;
      default: break;
    }
  }
  if (reported > kMaxSyntaxErrors)
    diags.error(loc_of(tokens.back()), "too many errors (" + std::to_string(reported) + "); stopping");
}

// ---- the ANTLR error strategy ----

void SyntaxErrorStrategy::add(SourceLoc loc, std::string message) {
  // One error per line: after the first, ANTLR's recovery often reports the
  // rest of the same line again, which only buries the real problem.
  if (count_ > 0 && loc.line == last_line_) return;
  last_line_ = loc.line;
  if (++count_ > kMaxSyntaxErrors) {
    diags_.error(loc, "too many syntax errors; stopping");
    throw TooManySyntaxErrors{};
  }
  diags_.error(loc, std::move(message));
}

// A forgotten ';' at the end of a line is reported where it belongs: just
// after the line's last token. Returns false when that does not apply.
bool SyntaxErrorStrategy::missing_semicolon(antlr4::Parser* parser, antlr4::Token* token,
                                            const std::string& wanted) {
  antlr4::Token* previous = parser->getTokenStream()->LT(-1);
  if (previous == nullptr || !wants_semicolon(wanted)) return false;
  const bool next_line = token->getType() == antlr4::Token::EOF || token->getLine() > previous->getLine();
  if (!next_line && token->getType() != LatentParser::RBRACE) return false;
  const char* what = construct_name(parser);
  add(loc_after(previous), std::string("expected ';'") + (what ? std::string(" after ") + what : ""));
  return true;
}

// The common case: `token` is not acceptable here; `expected` is what would be
// (null when unknown).
void SyntaxErrorStrategy::unexpected(antlr4::Parser* parser, antlr4::Token* token,
                                     const antlr4::misc::IntervalSet* expected) {
  beginErrorCondition(parser);
  if (token == nullptr) token = parser->getCurrentToken();
  antlr4::Token* previous = parser->getTokenStream()->LT(-1);
  const std::string wanted = expected ? describe_expected(*expected, parser->getVocabulary()) : "";
  const bool at_eof = token->getType() == antlr4::Token::EOF;

  if (token->getType() == LatentParser::STRING) {
    add(loc_of(token), "unexpected string " + shorten(token->getText()) +
                           ": strings can only be used in print(...) and reject(...)");
  } else if (at_top_level(parser) && !at_eof) {
    add(loc_of(token), "unexpected " + token_display(token) +
                           ": a program is a sequence of blocks such as 'data { ... }' and 'model { ... }'");
  } else if (missing_semicolon(parser, token, wanted)) {
  } else if (!at_eof && parser->getContext()->getRuleIndex() == LatentParser::RuleUnsizedType) {
    add(loc_of(token), "unexpected " + token_display(token) +
                           ": the types of function arguments and results have no sizes (write 'vector x', "
                           "'array[] real x', 'array[,] int x')");
  } else if (at_eof) {
    add(previous ? loc_after(previous) : loc_of(token), end_of_file_message(parser, wanted));
  } else {
    add(loc_of(token), "unexpected " + token_display(token) + (wanted.empty() ? "" : ", expected " + wanted));
  }
}

void SyntaxErrorStrategy::reportNoViableAlternative(antlr4::Parser* parser,
                                                    const antlr4::NoViableAltException& e) {
  antlr4::Token* token = e.getOffendingToken();
  // The expected set is only meaningful when the decision failed at its first token.
  if (e.getStartToken() == token) {
    antlr4::misc::IntervalSet expected = parser->getExpectedTokens();
    unexpected(parser, token, &expected);
  } else {
    unexpected(parser, token, nullptr);
  }
}

void SyntaxErrorStrategy::reportInputMismatch(antlr4::Parser* parser, const antlr4::InputMismatchException& e) {
  antlr4::misc::IntervalSet expected = e.getExpectedTokens();
  unexpected(parser, e.getOffendingToken(), &expected);
}

void SyntaxErrorStrategy::reportFailedPredicate(antlr4::Parser* parser,
                                                const antlr4::FailedPredicateException& e) {
  unexpected(parser, e.getOffendingToken(), nullptr);
}

void SyntaxErrorStrategy::reportUnwantedToken(antlr4::Parser* parser) {
  if (inErrorRecoveryMode(parser)) return;
  antlr4::misc::IntervalSet expected = getExpectedTokens(parser);
  unexpected(parser, parser->getCurrentToken(), &expected);
}

void SyntaxErrorStrategy::reportMissingToken(antlr4::Parser* parser) {
  if (inErrorRecoveryMode(parser)) return;
  beginErrorCondition(parser);
  antlr4::Token* token = parser->getCurrentToken();
  antlr4::Token* previous = parser->getTokenStream()->LT(-1);
  std::string wanted = describe_expected(getExpectedTokens(parser), parser->getVocabulary());
  if (wanted.empty()) wanted = "something else";
  if (missing_semicolon(parser, token, wanted)) return;
  if (token->getType() == antlr4::Token::EOF) {
    add(previous ? loc_after(previous) : loc_of(token), end_of_file_message(parser, wanted));
  } else if (previous != nullptr && token->getLine() > previous->getLine()) {
    add(loc_after(previous), "expected " + wanted);
  } else {
    add(loc_of(token), "expected " + wanted + " before " + token_display(token));
  }
}

// ---- fallback listener ----

void CollectingErrorListener::syntaxError(antlr4::Recognizer*, antlr4::Token*, size_t line, size_t column,
                                          const std::string& message, std::exception_ptr) {
  if (diags_.size() >= static_cast<size_t>(kMaxSyntaxErrors)) return;
  diags_.error({static_cast<int>(line), static_cast<int>(column) + 1}, message);
}

}  // namespace latent::parse_detail
