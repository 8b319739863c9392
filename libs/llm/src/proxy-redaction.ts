/** Replaces personal data in one text; it also counts what it replaced. */
export type Redact = (text: string) => string;

/**
 * Redacts every field of a chat message that can carry caller data: string content and text
 * parts, tool results (role tool or function), and the arguments of assistant tool calls
 * (`tool_calls[].function.arguments` and the older `function_call.arguments`). Arguments and
 * tool results that are JSON stay valid JSON, because only their strings are redacted.
 */
export function redactMessage(message: unknown, redact: Redact): unknown {
  if (typeof message !== 'object' || message === null) return message;
  const record: Record<string, unknown> = { ...(message as Record<string, unknown>) };
  const carriesJson = record.role === 'tool' || record.role === 'function';

  if (typeof record.content === 'string') record.content = carriesJson ? redactJsonText(record.content, redact) : redact(record.content);
  else if (Array.isArray(record.content)) {
    record.content = record.content.map((part) => {
      const textPart = part as { type?: unknown; text?: unknown } | null;
      if (textPart?.type !== 'text' || typeof textPart.text !== 'string') return part;
      return { ...textPart, text: carriesJson ? redactJsonText(textPart.text, redact) : redact(textPart.text) };
    });
  }

  if (Array.isArray(record.tool_calls)) record.tool_calls = record.tool_calls.map((call) => redactToolCall(call, redact));
  if (isObject(record.function_call)) record.function_call = redactFunction(record.function_call, redact);
  // NOTE: the `name` fields of messages and tool calls are forwarded unscanned; they name functions or speakers, not data.
  return record;
}

/**
 * Redacts a text that may be JSON. Parsed JSON has its keys, strings and numbers redacted and is
 * serialized again; other text is redacted as text. A number that contains personal data (a card
 * number sent as a JSON number) becomes a string with the replacement.
 */
export function redactJsonText(text: string, redact: Redact): string {
  let value: unknown;
  try {
    // The reviver reads each number's source text, because a 16-digit number loses digits as a double.
    value = JSON.parse(text, (_key, item: unknown, context?: { source?: string }) => {
      if (typeof item !== 'number' || context?.source === undefined) return item;
      const redacted = redact(context.source);
      return redacted === context.source ? item : redacted;
    });
  } catch {
    return redact(text);
  }
  return JSON.stringify(redactJsonValue(value, redact));
}

function redactJsonValue(value: unknown, redact: Redact): unknown {
  if (typeof value === 'string') return redact(value);
  if (Array.isArray(value)) return value.map((item) => redactJsonValue(item, redact));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [redact(key), redactJsonValue(item, redact)]));
  return value;
}

function redactToolCall(call: unknown, redact: Redact): unknown {
  if (!isObject(call) || !isObject(call.function)) return call;
  return { ...call, function: redactFunction(call.function, redact) };
}

function redactFunction(fn: Record<string, unknown>, redact: Redact): Record<string, unknown> {
  return typeof fn.arguments === 'string' ? { ...fn, arguments: redactJsonText(fn.arguments, redact) } : fn;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
