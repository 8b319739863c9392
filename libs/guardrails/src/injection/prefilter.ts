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
 * them occur in it. The automaton is compiled into a complete DFA: every UTF-16 code unit maps to
 * a character class (0 for units that occur in no literal), and a flat table contains the next state
 * for each state and class, with failure links already followed, so the scan does one table
 * lookup per character.
 */
export class LiteralScanner {
  /** Character class of each UTF-16 code unit; 0 for units that occur in no literal. */
  private readonly classes = new Uint16Array(65_536);
  private readonly classCount: number;
  /** Next state of state s on class c at index s * classCount + c. */
  private readonly table: Int32Array;
  /** Literal ids that end at each state, including those of its failure chain. */
  private readonly outputs: number[][];

  constructor(readonly literals: readonly string[]) {
    let classCount = 1;
    for (const literal of literals) {
      for (let index = 0; index < literal.length; index += 1) {
        const code = literal.charCodeAt(index);
        if (this.classes[code] === 0) this.classes[code] = classCount++;
      }
    }
    this.classCount = classCount;

    const trie = buildTrie(literals, this.classes);
    this.outputs = trie.outputs;
    this.table = compileTable(trie, classCount);
  }

  /** Returns, for each literal id, 1 when the literal occurs in `text`. */
  scan(text: string): Uint8Array {
    const present = new Uint8Array(this.literals.length);
    const { classes, table, classCount, outputs } = this;
    let state = 0;
    for (let index = 0; index < text.length; index += 1) {
      state = table[state * classCount + classes[text.charCodeAt(index)]];
      const ended = outputs[state];
      for (let item = 0; item < ended.length; item += 1) present[ended[item]] = 1;
    }
    return present;
  }
}

interface Trie {
  /** Child state per class, -1 where the trie has no edge. */
  children: Int32Array[];
  failure: number[];
  outputs: number[][];
}

function buildTrie(literals: readonly string[], classes: Uint16Array): Trie {
  const classCount = Math.max(...classes) + 1;
  const children = [new Int32Array(classCount).fill(-1)];
  const outputs: number[][] = [[]];
  literals.forEach((literal, id) => {
    let state = 0;
    for (let index = 0; index < literal.length; index += 1) {
      const cls = classes[literal.charCodeAt(index)];
      let next = children[state][cls];
      if (next === -1) {
        next = children.length;
        children.push(new Int32Array(classCount).fill(-1));
        outputs.push([]);
        children[state][cls] = next;
      }
      state = next;
    }
    outputs[state].push(id);
  });
  return { children, failure: new Array<number>(children.length).fill(0), outputs };
}

/**
 * Sets failure links breadth-first, merges the outputs of each state's failure chain into it and
 * fills the DFA table: an edge of the trie where there is one, else the failure state's entry,
 * which breadth-first order has already filled.
 */
function compileTable(trie: Trie, classCount: number): Int32Array {
  const { children, failure, outputs } = trie;
  const table = new Int32Array(children.length * classCount);
  const queue: number[] = [];
  for (let cls = 0; cls < classCount; cls += 1) {
    const child = children[0][cls];
    table[cls] = child === -1 ? 0 : child;
    if (child !== -1) queue.push(child);
  }
  for (let head = 0; head < queue.length; head += 1) {
    const state = queue[head];
    for (let cls = 0; cls < classCount; cls += 1) {
      const child = children[state][cls];
      if (child === -1) {
        table[state * classCount + cls] = table[failure[state] * classCount + cls];
        continue;
      }
      failure[child] = table[failure[state] * classCount + cls];
      outputs[child] = [...outputs[child], ...outputs[failure[child]]];
      table[state * classCount + cls] = child;
      queue.push(child);
    }
  }
  return table;
}
