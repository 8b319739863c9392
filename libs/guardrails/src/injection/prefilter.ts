/**
 * A literal prefilter for the rule patterns. Each regular expression costs a scan of the whole
 * text, even when the text has none of its words. For each pattern we derive literal strings, and
 * every match contains at least one of them. One Aho-Corasick pass over the text finds which
 * literals occur, so patterns with none of theirs are skipped. Patterns whose literals cannot be
 * derived (too short, case-insensitive groups, unsupported syntax) always run.
 */

/** Literals shorter than this filter too little to be worth a lookup; the pattern then always runs. */
const MIN_LITERAL_LENGTH = 3;

/** Escapes that stand for one literal character. */
const LITERAL_ESCAPES: Record<string, string> = { n: '\n', t: '\t', r: '\r', f: '\f', v: '\v', '0': '\0' };
const SYNTAX_CHARACTERS = new Set('^$\\.*+?()[]{}|/-\'"# :,;=!<>@%&~`'.split(''));

/** A parsed sub-expression: the literal set that every match must contain one of, or undefined if none is known. */
type Requirement = string[] | undefined;

class UnsupportedSyntax extends Error {}

/**
 * Returns literal strings such that every match of the regular expression `source` contains at
 * least one of them, or undefined when no such set of useful literals can be derived. The
 * analysis is conservative: any construct it does not understand makes the result undefined.
 */
export function extractRequiredLiterals(source: string): string[] | undefined {
  try {
    const parser = new LiteralParser(source);
    const requirement = parser.parseAlternation();
    if (parser.position !== source.length) return undefined;
    return requirement === undefined ? undefined : [...new Set(requirement)];
  } catch (error) {
    if (error instanceof UnsupportedSyntax) return undefined;
    throw error;
  }
}

/** Recursive-descent reader over the subset of regular expression syntax that the rules use. */
class LiteralParser {
  position = 0;

  constructor(private readonly source: string) {}

  /** alternation := sequence ('|' sequence)*; every branch must have a requirement. */
  parseAlternation(): Requirement {
    const branches: Requirement[] = [this.parseSequence()];
    while (this.source[this.position] === '|') {
      this.position += 1;
      branches.push(this.parseSequence());
    }
    if (branches.some((branch) => branch === undefined)) return undefined;
    return branches.flatMap((branch) => branch as string[]);
  }

  /** sequence := (atom quantifier?)*; returns the most selective requirement among its parts. */
  private parseSequence(): Requirement {
    const factors: string[][] = [];
    let run = '';
    const endRun = () => {
      if (run !== '') factors.push([run]);
      run = '';
    };

    while (this.position < this.source.length && this.source[this.position] !== '|' && this.source[this.position] !== ')') {
      const atom = this.parseAtom();
      const quantifier = this.parseQuantifier();

      if (quantifier === 'optional') {
        // The atom may be absent, so it requires nothing and splits the literal run around it.
        endRun();
        continue;
      }
      if (atom.kind === 'literal') {
        run += atom.character;
        if (quantifier === 'repeated') endRun();
        continue;
      }
      endRun();
      if (atom.kind === 'group' && atom.requirement !== undefined) factors.push(atom.requirement);
    }
    endRun();
    return mostSelective(factors);
  }

  private parseAtom():
    | { kind: 'literal'; character: string }
    | { kind: 'group'; requirement: Requirement }
    | { kind: 'other' } {
    const character = this.source[this.position];
    switch (character) {
      case '\\':
        return this.parseEscape();
      case '[':
        this.skipCharacterClass();
        return { kind: 'other' };
      case '(':
        return this.parseGroup();
      case '.':
      case '^':
      case '$':
        this.position += 1;
        return { kind: 'other' };
      case '*':
      case '+':
      case '?':
      case '{':
        throw new UnsupportedSyntax();
      default: {
        const codePoint = this.source.codePointAt(this.position) as number;
        const text = String.fromCodePoint(codePoint);
        this.position += text.length;
        return { kind: 'literal', character: text };
      }
    }
  }

  private parseEscape(): { kind: 'literal'; character: string } | { kind: 'other' } {
    const next = this.source[this.position + 1];
    if (next === undefined) throw new UnsupportedSyntax();
    this.position += 2;
    if (LITERAL_ESCAPES[next] !== undefined && !/\d/.test(this.source[this.position] ?? '')) return { kind: 'literal', character: LITERAL_ESCAPES[next] };
    if (SYNTAX_CHARACTERS.has(next)) return { kind: 'literal', character: next };
    if ('bB'.includes(next)) return { kind: 'other' };
    if ('dDwWsS'.includes(next)) return { kind: 'other' };
    if ('pP'.includes(next) && this.source[this.position] === '{') {
      const close = this.source.indexOf('}', this.position);
      if (close < 0) throw new UnsupportedSyntax();
      this.position = close + 1;
      return { kind: 'other' };
    }
    // \x, \u, \c, back-references and named references are left to the regular expression engine.
    throw new UnsupportedSyntax();
  }

  private skipCharacterClass(): void {
    this.position += 1;
    while (this.position < this.source.length && this.source[this.position] !== ']') {
      this.position += this.source[this.position] === '\\' ? 2 : 1;
    }
    if (this.source[this.position] !== ']') throw new UnsupportedSyntax();
    this.position += 1;
  }

  private parseGroup(): { kind: 'group'; requirement: Requirement } | { kind: 'other' } {
    const rest = this.source.slice(this.position, this.position + 4);
    let lookaround = false;
    if (rest.startsWith('(?:')) this.position += 3;
    else if (rest.startsWith('(?=') || rest.startsWith('(?!')) {
      this.position += 3;
      lookaround = true;
    } else if (rest.startsWith('(?<=') || rest.startsWith('(?<!')) {
      this.position += 4;
      lookaround = true;
    } else if (rest.startsWith('(?<')) {
      const close = this.source.indexOf('>', this.position);
      if (close < 0) throw new UnsupportedSyntax();
      this.position = close + 1;
    } else if (rest.startsWith('(?')) {
      // Modifier groups such as (?i:...) change how literals compare.
      throw new UnsupportedSyntax();
    } else this.position += 1;

    const requirement = this.parseAlternation();
    if (this.source[this.position] !== ')') throw new UnsupportedSyntax();
    this.position += 1;
    // A lookaround consumes no text of the match, so its literals may lie outside the match.
    return lookaround ? { kind: 'other' } : { kind: 'group', requirement };
  }

  /** Reads a quantifier after an atom: optional when the atom may occur zero times. */
  private parseQuantifier(): 'once' | 'optional' | 'repeated' {
    const character = this.source[this.position];
    let quantifier: 'once' | 'optional' | 'repeated' = 'once';
    if (character === '?' || character === '*') {
      this.position += 1;
      quantifier = 'optional';
    } else if (character === '+') {
      this.position += 1;
      quantifier = 'repeated';
    } else if (character === '{') {
      const match = /^\{(\d+)(,\d*)?\}/.exec(this.source.slice(this.position));
      if (match === null) throw new UnsupportedSyntax();
      this.position += match[0].length;
      quantifier = Number(match[1]) === 0 ? 'optional' : 'repeated';
    }
    // A lazy marker changes how much is matched, not whether the atom is required.
    if (quantifier !== 'once' && this.source[this.position] === '?') this.position += 1;
    return quantifier;
  }
}

/** Picks the factor whose shortest literal is longest, which rules out the most texts. */
function mostSelective(factors: readonly string[][]): Requirement {
  let best: string[] | undefined;
  let bestLength = 0;
  for (const factor of factors) {
    const shortest = Math.min(...factor.map((literal) => literal.length));
    if (shortest > bestLength || (shortest === bestLength && best !== undefined && factor.length < best.length)) {
      best = factor;
      bestLength = shortest;
    }
  }
  return bestLength >= MIN_LITERAL_LENGTH ? best : undefined;
}

/**
 * Aho-Corasick automaton over a fixed list of literals: one pass over a text reports which of
 * them occur in it.
 */
export class LiteralScanner {
  private readonly transitions: Array<Map<number, number>> = [new Map()];
  private readonly failure: number[] = [0];
  private readonly outputs: number[][] = [[]];

  constructor(readonly literals: readonly string[]) {
    literals.forEach((literal, id) => this.insert(literal, id));
    this.linkFailures();
  }

  /** Returns, for each literal id, 1 when the literal occurs in `text`. */
  scan(text: string): Uint8Array {
    const present = new Uint8Array(this.literals.length);
    let state = 0;
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      while (state !== 0 && !this.transitions[state].has(code)) state = this.failure[state];
      state = this.transitions[state].get(code) ?? 0;
      for (const id of this.outputs[state]) present[id] = 1;
    }
    return present;
  }

  private insert(literal: string, id: number): void {
    let state = 0;
    for (let index = 0; index < literal.length; index += 1) {
      const code = literal.charCodeAt(index);
      let next = this.transitions[state].get(code);
      if (next === undefined) {
        next = this.transitions.length;
        this.transitions.push(new Map());
        this.failure.push(0);
        this.outputs.push([]);
        this.transitions[state].set(code, next);
      }
      state = next;
    }
    this.outputs[state].push(id);
  }

  /** Sets failure links breadth-first and merges the outputs of each state's failure chain into it. */
  private linkFailures(): void {
    const queue = [...this.transitions[0].values()];
    for (let head = 0; head < queue.length; head += 1) {
      const state = queue[head];
      for (const [code, next] of this.transitions[state]) {
        let fallback = this.failure[state];
        while (fallback !== 0 && !this.transitions[fallback].has(code)) fallback = this.failure[fallback];
        const target = this.transitions[fallback].get(code);
        this.failure[next] = target !== undefined && target !== next ? target : 0;
        this.outputs[next] = [...this.outputs[next], ...this.outputs[this.failure[next]]];
        queue.push(next);
      }
    }
  }
}
