// The latent language: a superset of a core subset of Stan.
//
// One combined grammar. The parse tree it produces is turned into the AST of
// compiler/frontend/ast.hpp by compiler/frontend/ast_builder.cpp; rules that the
// grammar accepts more loosely than Stan (block names, constraint names, type
// sizes, which statements a block may hold, ...) are checked there, so that the
// user gets a precise message instead of a generic syntax error.
//
// Design notes
// - Words that Stan uses only in one position are NOT keywords: block names
//   other than `functions` (`data`, `model`, `transformed`, ...), constraint
//   names (`lower`, `upper`, `offset`, `multiplier`) and the truncation marker
//   `T` are plain identifiers, so a variable may be called `offset` or `T`.
// - Rules are written so that the parser decides between alternatives from
//   the next token or two (a statement starting with '{' may need a few more:
//   block or array literal), never by looking ahead across a whole
//   expression. That keeps parsing fast and makes ANTLR's error reports point
//   at the token that is actually wrong.
// - Operator precedence follows stanc3 (the reference implementation), tightest
//   first: postfix ' and [ ]; ^ .^ (right); prefix - ! +; \ %/%;
//   * / % .* ./; + -; < <= > >=; == !=; &&; ||; ?: (right).
//   In an ANTLR left-recursive rule, earlier alternatives bind tighter.
// - Constraint bounds (<lower=..., upper=...>) use `arithExpr`, which has no
//   comparison or logical operators at top level, so the closing '>' is never
//   read as greater-than. Parenthesise to use a comparison inside a bound.
// - The lexer is total: every input character becomes some token. Malformed
//   input yields the ERROR_CHAR / UNTERMINATED_* / INCLUDE tokens, which no
//   parser rule accepts; syntax_errors.cpp reports them before parsing.

grammar Latent;

// ============================================================================
// Parser
// ============================================================================

program
  : topBlock* EOF
  ;

// `data { ... }`, `transformed data { ... }`, `generated quantities { ... }`.
// Block names other than `functions` are identifiers; ast_builder.cpp
// validates them. Only the functions block holds function definitions; keeping
// them apart keeps every decision inside a block LL(1), which is what makes
// the syntax error messages precise.
topBlock
  : FUNCTIONS '{' functionDef* '}'                                      # FunctionsBlock
  | name=IDENT qualifier=IDENT? '{' (varDecl | statement | layerDecl | innerBlock)* '}'  # CodeBlock
  ;

// ---- networks and guides ----

// `dense enc_h(D, 400);` in a network block: a layer kind, its name, its sizes.
// The kind is an identifier (validated by the builder), so the parser decides
// from the second token: IDENT IDENT starts no statement.
layerDecl
  : kind=IDENT name=IDENT '(' (args+=expression (',' args+=expression)*)? ')' ';'
  ;

// `network { ... }` inside the guide block: the guide's own weights.
innerBlock
  : name=IDENT '{' layerDecl* '}'
  ;

// ---- user-defined functions ----

// `real f(data real x, array[] vector y) { ... }`; a declaration ends in ';'
// and is defined later. Types are unsized (`vector`, `array[,] real`, old `real[]`).
functionDef
  : unsizedType IDENT '(' (funArg (',' funArg)*)? ')' (statement | ';')
  ;

// qualifier: `data`. A constraint is parsed only to be rejected with a clear message.
funArg
  : qualifier=IDENT? unsizedType typeConstraint? IDENT
  ;

unsizedType
  : VOID
  | ARRAY '[' ','* ']' typeName
  | typeName ('[' ','* ']')?
  ;

// ---- declarations ----

// `array[N, M] real<lower=0> x, y = e;` or the old form `real x[N, M];`.
varDecl
  : (ARRAY '[' arraySizes+=expression (',' arraySizes+=expression)* ']')?
    typeName typeConstraint?
    ('[' typeSizes+=expression (',' typeSizes+=expression)* ']')?
    declarator (',' declarator)* ';'
  ;

// One declared name; `dims` is the old array form `real x[N, M]`.
declarator
  : IDENT ('[' dims+=expression (',' dims+=expression)* ']')? ('=' init=expression)?
  ;

typeName
  : INT | REAL | VECTOR | ROW_VECTOR | MATRIX | SIMPLEX | CHOLESKY_FACTOR_CORR
  | ORDERED | POSITIVE_ORDERED | UNIT_VECTOR | SUM_TO_ZERO_VECTOR | COV_MATRIX
  | CORR_MATRIX | CHOLESKY_FACTOR_COV
  // Stan types that are recognised so that they get a clear "not supported" error:
  | COMPLEX | COMPLEX_VECTOR | COMPLEX_ROW_VECTOR | COMPLEX_MATRIX
  ;

// <lower=a, upper=b> / <offset=a, multiplier=b>: names validated by the builder.
typeConstraint
  : '<' constraintItem (',' constraintItem)* '>'
  ;

// A bare name is a flag: `int<plate> N` declares the plate (subsampled) dimension.
constraintItem
  : IDENT ('=' arithExpr)?
  ;

// ---- statements ----

// Assignments, sampling statements and function calls share one alternative
// (ExprStmt) so that the parser never has to look ahead over a whole
// expression to choose; the builder checks that an assignment's left side is
// a variable and that a lone expression is a function call.
statement
  : lhs=expression
    ( assignOp value=expression
    | '~' dist=IDENT '(' (args+=expression (',' args+=expression)*)? ')' truncation?
    )? ';'                                                              # ExprStmt
  | TARGET assignOp expression ';'                                      # TargetStmt
  | FOR '(' IDENT IN lo=expression (':' hi=expression)? ')' statement   # ForStmt
  | WHILE '(' expression ')' statement                                  # WhileStmt
  | IF '(' expression ')' then=statement (ELSE otherwise=statement)?    # IfStmt
  | '{' (varDecl | statement)* '}'                                      # BlockStmt
  | PRINT '(' printable (',' printable)* ')' ';'                        # PrintStmt
  | REJECT '(' printable (',' printable)* ')' ';'                       # RejectStmt
  | BREAK ';'                                                           # BreakStmt
  | CONTINUE ';'                                                        # ContinueStmt
  | RETURN expression? ';'                                              # ReturnStmt
  | ';'                                                                 # EmptyStmt
  ;

// T[lower, upper] after a sampling statement; the name must be `T` (checked by
// the builder, which currently rejects truncation as not supported yet).
truncation
  : IDENT '[' lo=expression? ',' hi=expression? ']'
  ;

assignOp
  : '=' | '+=' | '-=' | '*=' | '/=' | '.*=' | './='
  ;

printable
  : STRING
  | expression
  ;

// ---- expressions ----

expression
  : arithExpr                                                  # ArithOperand
  | expression op=('<' | '<=' | '>' | '>=') expression         # ExprBinary
  | expression op=('==' | '!=') expression                     # ExprBinary
  | expression op='&&' expression                              # ExprBinary
  | expression op='||' expression                              # ExprBinary
  | <assoc=right> expression op='?' expression ':' expression  # Ternary
  ;

// Everything above comparisons; also the grammar of constraint bounds.
arithExpr
  : arithExpr op='\''                                          # Transpose
  | arithExpr op='[' indexes ']'                               # IndexExpr
  | <assoc=right> arithExpr op=('^' | '.^') arithExpr          # ArithBinary
  | op=('-' | '!' | '+') arithExpr                             # Unary
  | arithExpr op=('\\' | '%/%') arithExpr                      # ArithBinary
  | arithExpr op=('*' | '/' | '%' | '.*' | './') arithExpr     # ArithBinary
  | arithExpr op=('+' | '-') arithExpr                         # ArithBinary
  | INT_LIT                                                    # IntLit
  | REAL_LIT                                                   # RealLit
  | call                                                       # CallExpr
  | TARGET '(' ')'                                             # TargetCall
  | IDENT                                                      # Var
  | '(' expression ')'                                         # Paren
  | '{' expression (',' expression)* '}'                       # ArrayLit
  | '[' (expression (',' expression)*)? ']'                    # RowVectorLit
  ;

// f(a, b) or foo_lpdf(y | mu, sigma)
call
  : IDENT '(' (args+=expression (bar='|' (args+=expression (',' args+=expression)*)?
                                | (',' args+=expression)*))? ')'
  ;

indexes
  : index (',' index)*
  ;

// a[i], a[i:j], a[:j], a[i:], a[:], and an omitted index a[, j] (= all).
// One alternative, so that choosing needs no lookahead over the expression.
index
  : lo=expression? (colon=':' hi=expression?)?
  ;

// ============================================================================
// Lexer
// ============================================================================

// Keywords (reserved words).
FUNCTIONS: 'functions';
FOR: 'for';
IN: 'in';
WHILE: 'while';
IF: 'if';
ELSE: 'else';
BREAK: 'break';
CONTINUE: 'continue';
RETURN: 'return';
PRINT: 'print';
REJECT: 'reject';
TARGET: 'target';
VOID: 'void';
ARRAY: 'array';
INT: 'int';
REAL: 'real';
VECTOR: 'vector';
ROW_VECTOR: 'row_vector';
MATRIX: 'matrix';
SIMPLEX: 'simplex';
CHOLESKY_FACTOR_CORR: 'cholesky_factor_corr';
ORDERED: 'ordered';
POSITIVE_ORDERED: 'positive_ordered';
UNIT_VECTOR: 'unit_vector';
SUM_TO_ZERO_VECTOR: 'sum_to_zero_vector';
COV_MATRIX: 'cov_matrix';
CORR_MATRIX: 'corr_matrix';
CHOLESKY_FACTOR_COV: 'cholesky_factor_cov';
COMPLEX: 'complex';
COMPLEX_VECTOR: 'complex_vector';
COMPLEX_ROW_VECTOR: 'complex_row_vector';
COMPLEX_MATRIX: 'complex_matrix';

// Punctuation.
LPAREN: '(';
RPAREN: ')';
LBRACK: '[';
RBRACK: ']';
LBRACE: '{';
RBRACE: '}';
COMMA: ',';
SEMI: ';';
COLON: ':';
QMARK: '?';
BAR: '|';
TILDE: '~';

// Assignment.
ASSIGN: '=';
PLUS_ASSIGN: '+=';
MINUS_ASSIGN: '-=';
TIMES_ASSIGN: '*=';
DIVIDE_ASSIGN: '/=';
ELT_TIMES_ASSIGN: '.*=';
ELT_DIVIDE_ASSIGN: './=';

// Operators.
OR: '||';
AND: '&&';
EQ: '==';
NEQ: '!=';
LT: '<';
LEQ: '<=';
GT: '>';
GEQ: '>=';
PLUS: '+';
MINUS: '-';
TIMES: '*';
DIVIDE: '/';
MODULO: '%';
LDIVIDE: '\\';
IDIVIDE: '%/%';
ELT_TIMES: '.*';
ELT_DIVIDE: './';
HAT: '^';
ELT_POW: '.^';
BANG: '!';
TRANSPOSE: '\'';

// Literals and names. `2.*x` lexes as `2.` `*` `x`, as in Stan.
REAL_LIT
  : DIGITS '.' DIGITS? EXPONENT?
  | '.' DIGITS EXPONENT?
  | DIGITS EXPONENT
  ;
INT_LIT: DIGITS;
fragment DIGITS: [0-9]+;
fragment EXPONENT: [eE] [+-]? DIGITS;

STRING: '"' (~["\\\r\n] | '\\' ~[\r\n])* '"';
IDENT: [a-zA-Z_] [a-zA-Z0-9_]*;

// Layout and comments. `#` starts a line comment (old Stan), except `#include`.
INCLUDE: '#include' ~[\r\n]*;
LINE_COMMENT: ('//' | '#') ~[\r\n]* -> skip;
BLOCK_COMMENT: '/*' .*? '*/' -> skip;
WS: [ \t\r\n\f\u000B\uFEFF]+ -> skip;

// Error tokens: never accepted by the parser, reported with a clear message.
// UNTERMINATED_COMMENT cannot contain "*/", so it only matches when the comment
// runs to the end of the file.
UNTERMINATED_COMMENT: '/*' (~'*' | '*'+ ~[*/])* '*'* EOF;
UNTERMINATED_STRING: '"' (~["\\\r\n] | '\\' ~[\r\n])* ('\\')?;
ERROR_CHAR: .;
