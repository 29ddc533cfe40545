/**
 * The grammar, and nothing else: a Chevrotain CST parser. One instance is
 * built once and reused (building it analyses the grammar). Precedence:
 * `not` binds tighter than `and`, which binds tighter than `or` — as in C and
 * SQL (pcap-filter gives `and` and `or` equal precedence; we do not).
 */
import {
  CstParser,
  type IParserErrorMessageProvider,
  type TokenType,
  tokenLabel,
} from 'chevrotain';
import * as T from './tokens.js';

/**
 * What a syntax error expected, as data: the labels of the tokens that could
 * have come next (each token's LABEL). Chevrotain hands us these through its
 * error message provider; the "message" we give back is this JSON, which
 * parse.ts reads back, so no English text of Chevrotain's is ever parsed.
 */
export interface Expected {
  readonly expected: readonly string[];
}

function expectedOf(tokens: readonly TokenType[]): string {
  const labels = [
    ...new Set(tokens.map((t) => (t.name === 'EOF' ? 'end of input' : tokenLabel(t)))),
  ];
  return JSON.stringify({ expected: labels } satisfies Expected);
}

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected }) => expectedOf([expected]),
  buildNotAllInputParsedMessage: () => expectedOf([]),
  buildNoViableAltMessage: ({ expectedPathsPerAlt }) =>
    expectedOf(expectedPathsPerAlt.flatMap((alt) => alt.flatMap((path) => path.slice(0, 1)))),
  buildEarlyExitMessage: ({ expectedIterationPaths }) =>
    expectedOf(expectedIterationPaths.flatMap((path) => path.slice(0, 1))),
};

export class FilterParser extends CstParser {
  constructor(validate = T.VALIDATE_GRAMMAR) {
    super(T.allTokens, {
      recoveryEnabled: true,
      maxLookahead: 3,
      skipValidations: !validate,
      errorMessageProvider: messages,
    });
    this.performSelfAnalysis();
  }

  public filter = this.RULE('filter', () => {
    this.SUBRULE(this.expression);
  });

  public expression = this.RULE('expression', () => {
    this.SUBRULE(this.andExpr);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.Or) }, { ALT: () => this.CONSUME(T.OrOr) }]);
      this.SUBRULE2(this.andExpr);
    });
  });

  public andExpr = this.RULE('andExpr', () => {
    this.SUBRULE(this.notExpr);
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(T.And) }, { ALT: () => this.CONSUME(T.AndAnd) }]);
      this.SUBRULE2(this.notExpr);
    });
  });

  public notExpr = this.RULE('notExpr', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([{ ALT: () => this.CONSUME(T.Not) }, { ALT: () => this.CONSUME(T.Bang) }]);
          this.SUBRULE(this.notExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  public primary = this.RULE('primary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(T.RParen);
        },
      },
      { ALT: () => this.SUBRULE(this.predicate) },
    ]);
  });

  public predicate = this.RULE('predicate', () => {
    this.CONSUME(T.Identifier);
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.SUBRULE(this.compareOp);
            this.SUBRULE(this.value);
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => this.CONSUME(T.Not));
            this.CONSUME(T.In);
            this.SUBRULE(this.listRef);
          },
        },
      ]);
    });
  });

  public compareOp = this.RULE('compareOp', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Eq) },
      { ALT: () => this.CONSUME(T.Ne) },
      { ALT: () => this.CONSUME(T.Le) },
      { ALT: () => this.CONSUME(T.Ge) },
      { ALT: () => this.CONSUME(T.Lt) },
      { ALT: () => this.CONSUME(T.Gt) },
      { ALT: () => this.CONSUME(T.Tilde) },
      { ALT: () => this.CONSUME(T.RegexMatch) },
    ]);
  });

  public listRef = this.RULE('listRef', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.listLit) },
      // `rport in 8000..8999`: a lone range (or value) needs no parentheses;
      // a lone word is the name of a list (or, for an enum field, a value).
      { ALT: () => this.SUBRULE(this.listItem) },
    ]);
  });

  public listLit = this.RULE('listLit', () => {
    this.CONSUME(T.LParen);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.listItem) });
    this.CONSUME(T.RParen);
  });

  public listItem = this.RULE('listItem', () => {
    this.SUBRULE(this.value);
    this.OPTION(() => {
      this.CONSUME(T.DotDot);
      this.SUBRULE2(this.value);
    });
  });

  public value = this.RULE('value', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.HexLit) },
      { ALT: () => this.CONSUME(T.UnitLit) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.RegexLit) },
      { ALT: () => this.CONSUME(T.IPv4Lit) },
      { ALT: () => this.CONSUME(T.IPv6Lit) },
      // A bare word: a value of an enum field (`outcome == refused`).
      { ALT: () => this.CONSUME(T.Identifier) },
    ]);
  });

  // ---- rule files ----

  public ruleFile = this.RULE('ruleFile', () => {
    this.MANY(() => this.SUBRULE(this.statement));
  });

  public statement = this.RULE('statement', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.includeStmt) },
      { ALT: () => this.SUBRULE(this.listStmt) },
      { ALT: () => this.SUBRULE(this.macroStmt) },
      { ALT: () => this.SUBRULE(this.ruleStmt) },
      { ALT: () => this.SUBRULE(this.sampleStmt) },
    ]);
  });

  public includeStmt = this.RULE('includeStmt', () => {
    this.CONSUME(T.Include);
    this.CONSUME(T.StringLit);
  });

  public listStmt = this.RULE('listStmt', () => {
    this.CONSUME(T.List);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Assign);
    this.SUBRULE(this.listLit);
  });

  public macroStmt = this.RULE('macroStmt', () => {
    this.CONSUME(T.Macro);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Assign);
    this.SUBRULE(this.expression);
  });

  public ruleStmt = this.RULE('ruleStmt', () => {
    this.CONSUME(T.Rule);
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expression);
    this.MANY(() => {
      this.OR([
        { ALT: () => this.SUBRULE(this.tagList) },
        {
          ALT: () => {
            this.CONSUME(T.Desc);
            this.CONSUME(T.StringLit);
          },
        },
      ]);
    });
  });

  public tagList = this.RULE('tagList', () => {
    this.CONSUME(T.Tags);
    this.CONSUME(T.LParen);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.CONSUME(T.Identifier) });
    this.CONSUME(T.RParen);
  });

  public sampleStmt = this.RULE('sampleStmt', () => {
    this.CONSUME(T.Sample);
    this.CONSUME(T.LBrace);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.sampleField) });
    this.CONSUME(T.RBrace);
    this.AT_LEAST_ONE(() => this.SUBRULE(this.sampleExpect));
  });

  public sampleField = this.RULE('sampleField', () => {
    this.CONSUME(T.Identifier);
    this.CONSUME(T.Colon);
    this.SUBRULE(this.value);
  });

  public sampleExpect = this.RULE('sampleExpect', () => {
    this.OR([{ ALT: () => this.CONSUME(T.Matches) }, { ALT: () => this.CONSUME(T.Rejects) }]);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.CONSUME(T.Identifier) });
  });
}

let instance: FilterParser | undefined;
/** The one parser instance, built on first use: building it analyses the grammar, which is slow. */
export function parser(): FilterParser {
  instance ??= new FilterParser();
  return instance;
}
