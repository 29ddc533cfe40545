import { Lexer, tokenLabel } from 'chevrotain';
import { describe, expect, it } from 'vitest';
import { parseFilter } from '../../src/dsl/parse.js';
import { FilterParser } from '../../src/dsl/parser.js';
import { allTokens, makeLexer } from '../../src/dsl/tokens.js';

// The tool builds its lexer and parser without Chevrotain's validations (for
// start-up time); here they are built with them, so a grammar or token
// mistake (ambiguity, left recursion, unreachable token) fails the suite.
describe('grammar and tokens pass Chevrotain validation', () => {
  it('lexer', () => {
    const lexer = makeLexer(true);
    expect(lexer.lexerDefinitionErrors).toEqual([]);
  });
  it('parser', () => {
    expect(() => new FilterParser(true)).not.toThrow();
  });
});

describe('diagnostics name tokens by their labels, never by Chevrotain names', () => {
  it('every token a user can be told about has a label', () => {
    const unlabelled = allTokens
      .filter((t) => t.GROUP !== Lexer.SKIPPED && t.name !== 'UnterminatedString')
      .filter((t) => tokenLabel(t) === t.name)
      .map((t) => t.name);
    expect(unlabelled).toEqual([]);
  });

  it('a syntax error lists what was expected, from the labels', () => {
    const r = parseFilter('dport == ');
    expect(r.diagnostics.map((d) => [d.message, d.hints])).toEqual([
      [
        'expected a value, found end of input',
        [
          'expected one of: a number, a size or duration (10KiB, 250ms), a string, a /regex/, an IPv4 address or CIDR, an IPv6 address or CIDR, a bare word (role == server)',
        ],
      ],
    ]);
  });
});
