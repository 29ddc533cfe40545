import { describe, expect, it } from 'vitest';
import { FilterParser } from '../../src/dsl/parser.js';
import { makeLexer } from '../../src/dsl/tokens.js';

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
