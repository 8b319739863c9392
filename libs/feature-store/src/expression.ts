/**
 * A small arithmetic language for derived features, parsed once and evaluated without `eval`.
 *
 * Grammar: numbers, names of features or inputs, `+ - * /`, unary minus, parentheses and the
 * functions `abs(x)`, `min(a, b, ...)`, `max(a, b, ...)`, `log1p(x)` and `coalesce(a, b, ...)`.
 * A missing value is null and makes the result null (except in `coalesce`). Division by zero and
 * any non-finite result are null too, so a derived feature is always a finite number or null.
 */

export type Expression =
  | { kind: 'number'; value: number }
  | { kind: 'name'; name: string }
  | { kind: 'negate'; operand: Expression }
  | { kind: 'binary'; operator: '+' | '-' | '*' | '/'; left: Expression; right: Expression }
  | { kind: 'call'; name: FunctionName; args: Expression[] };

const FUNCTIONS = ['abs', 'min', 'max', 'log1p', 'coalesce'] as const;
type FunctionName = (typeof FUNCTIONS)[number];
const ARITY: Record<FunctionName, [number, number]> = {
  abs: [1, 1],
  log1p: [1, 1],
  min: [2, 16],
  max: [2, 16],
  coalesce: [2, 16],
};

/** Maximum expression length in characters, which also bounds the nesting depth. */
const MAX_EXPRESSION_LENGTH = 500;

export class ExpressionError extends Error {}

interface Token {
  type: 'number' | 'name' | 'operator' | 'open' | 'close' | 'comma' | 'end';
  text: string;
  position: number;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let position = 0;
  while (position < text.length) {
    const rest = text.slice(position);
    const space = /^\s+/.exec(rest);
    if (space) {
      position += space[0].length;
      continue;
    }
    const number = /^(\d+(\.\d+)?([eE][+-]?\d+)?)/.exec(rest);
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest);
    if (number) tokens.push({ type: 'number', text: number[0], position });
    else if (name) tokens.push({ type: 'name', text: name[0], position });
    else if ('+-*/'.includes(rest[0])) tokens.push({ type: 'operator', text: rest[0], position });
    else if (rest[0] === '(') tokens.push({ type: 'open', text: '(', position });
    else if (rest[0] === ')') tokens.push({ type: 'close', text: ')', position });
    else if (rest[0] === ',') tokens.push({ type: 'comma', text: ',', position });
    else throw new ExpressionError(`unexpected character ${JSON.stringify(rest[0])} at position ${position + 1}`);
    position += tokens[tokens.length - 1].text.length;
  }
  tokens.push({ type: 'end', text: 'end of expression', position });
  return tokens;
}

/** Parses an expression, raising ExpressionError with the position of the first problem. */
export function parseExpression(text: string): Expression {
  if (text.length > MAX_EXPRESSION_LENGTH) throw new ExpressionError(`is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const tokens = tokenize(text);
  let index = 0;
  const peek = () => tokens[index];
  const next = () => tokens[index++];
  const expect = (type: Token['type'], what: string) => {
    const token = next();
    if (token.type !== type) throw new ExpressionError(`expected ${what} at position ${token.position + 1}, found ${token.text}`);
  };

  // sum := product (('+' | '-') product)*
  const parseSum = (): Expression => {
    let left = parseProduct();
    while (peek().type === 'operator' && (peek().text === '+' || peek().text === '-')) {
      const operator = next().text as '+' | '-';
      left = { kind: 'binary', operator, left, right: parseProduct() };
    }
    return left;
  };
  // product := unary (('*' | '/') unary)*
  const parseProduct = (): Expression => {
    let left = parseUnary();
    while (peek().type === 'operator' && (peek().text === '*' || peek().text === '/')) {
      const operator = next().text as '*' | '/';
      left = { kind: 'binary', operator, left, right: parseUnary() };
    }
    return left;
  };
  const parseUnary = (): Expression => {
    if (peek().type === 'operator' && peek().text === '-') {
      next();
      return { kind: 'negate', operand: parseUnary() };
    }
    return parseAtom();
  };
  const parseAtom = (): Expression => {
    const token = next();
    if (token.type === 'number') return { kind: 'number', value: Number(token.text) };
    if (token.type === 'open') {
      const inner = parseSum();
      expect('close', '")"');
      return inner;
    }
    if (token.type === 'name') {
      if (peek().type !== 'open') return { kind: 'name', name: token.text };
      if (!(FUNCTIONS as readonly string[]).includes(token.text)) {
        throw new ExpressionError(`unknown function ${token.text} at position ${token.position + 1}; known functions: ${FUNCTIONS.join(', ')}`);
      }
      next();
      const args: Expression[] = [parseSum()];
      while (peek().type === 'comma') {
        next();
        args.push(parseSum());
      }
      expect('close', '")"');
      const name = token.text as FunctionName;
      const [least, most] = ARITY[name];
      if (args.length < least || args.length > most) {
        throw new ExpressionError(`${name} takes ${least === most ? least : `${least} to ${most}`} arguments, got ${args.length}`);
      }
      return { kind: 'call', name, args };
    }
    throw new ExpressionError(`expected a number, name or "(" at position ${token.position + 1}, found ${token.text}`);
  };

  const expression = parseSum();
  if (peek().type !== 'end') throw new ExpressionError(`unexpected ${peek().text} at position ${peek().position + 1}`);
  return expression;
}

/** Names an expression reads, in first-use order. */
export function referencedNames(expression: Expression): string[] {
  const names: string[] = [];
  const visit = (node: Expression) => {
    if (node.kind === 'name' && !names.includes(node.name)) names.push(node.name);
    if (node.kind === 'negate') visit(node.operand);
    if (node.kind === 'binary') {
      visit(node.left);
      visit(node.right);
    }
    if (node.kind === 'call') node.args.forEach(visit);
  };
  visit(expression);
  return names;
}

/** Evaluates a parsed expression. A name missing from `values` counts as null. */
export function evaluateExpression(expression: Expression, values: Readonly<Record<string, number | null>>): number | null {
  const result = evaluate(expression, values);
  return result !== null && Number.isFinite(result) ? result : null;
}

function evaluate(node: Expression, values: Readonly<Record<string, number | null>>): number | null {
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'name':
      return Object.hasOwn(values, node.name) ? values[node.name] : null;
    case 'negate': {
      const operand = evaluate(node.operand, values);
      return operand === null ? null : -operand;
    }
    case 'binary': {
      const left = evaluate(node.left, values);
      const right = evaluate(node.right, values);
      if (left === null || right === null) return null;
      if (node.operator === '+') return left + right;
      if (node.operator === '-') return left - right;
      if (node.operator === '*') return left * right;
      return right === 0 ? null : left / right;
    }
    case 'call':
      return evaluateCall(node.name, node.args.map((arg) => evaluate(arg, values)));
  }
}

function evaluateCall(name: FunctionName, args: (number | null)[]): number | null {
  if (name === 'coalesce') return args.find((arg) => arg !== null) ?? null;
  if (args.some((arg) => arg === null)) return null;
  const numbers = args as number[];
  switch (name) {
    case 'abs':
      return Math.abs(numbers[0]);
    case 'log1p':
      return numbers[0] <= -1 ? null : Math.log1p(numbers[0]);
    case 'min':
      return Math.min(...numbers);
    case 'max':
      return Math.max(...numbers);
  }
}
