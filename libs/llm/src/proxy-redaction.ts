/** Replaces personal data in one text; it also counts what it replaced. */
export type Redact = (text: string) => string;

/**
 * Keys whose string values are protocol identifiers or enums, never caller data, so the walk
 * leaves them as they are. Each must reach the upstream or the caller byte for byte:
 * - `model`, `object`: model and object type names that the gateway routes and checks itself.
 * - `role`, `type`, `finish_reason`: enums of the chat protocol and of JSON Schema.
 * - `id`, `tool_call_id`: opaque identifiers that pair a tool result with its call. A pattern in a
 *   random id (a run of digits) could otherwise be taken for a phone number and break the pairing.
 * - `encoding_format`, `reasoning_effort`, `service_tier`, `modalities`, `voice`: request enums.
 * `name` is skipped only inside function objects (see isFunctionObject), because a tool call must
 * name a declared function. A message's `name` (the speaker) is redacted like any other string.
 */
const PROTOCOL_KEYS: ReadonlySet<string> = new Set([
  'model',
  'object',
  'role',
  'type',
  'finish_reason',
  'id',
  'tool_call_id',
  'encoding_format',
  'reasoning_effort',
  'service_tier',
  'modalities',
  'voice',
]);

/** Tells whether `key` of a chat message, delta or request names a protocol identifier rather than data. */
export function isProtocolKey(key: string): boolean {
  return PROTOCOL_KEYS.has(key);
}

/**
 * Applies `visit` to every string value under `value` except protocol keys, and returns a copy.
 * A string under `arguments` is a tool call's JSON arguments and goes through mapJsonText, so
 * its numbers are checked too. Base64 payloads (`data:` URLs, `input_audio.data`,
 * `file.file_data`, `audio.data`) are left as they are: a text scan finds nothing in them, and
 * a replacement would corrupt the file.
 * NOTE: object keys outside tool call arguments are not redacted, so a caller-chosen key in
 * `metadata` reaches the upstream as sent.
 */
export function mapStrings(value: unknown, visit: Redact, parentKey = ''): unknown {
  if (typeof value === 'string') return visit(value);
  if (Array.isArray(value)) return value.map((item) => mapStrings(item, visit, parentKey));
  if (!isObject(value)) return value;

  const functionObject = isFunctionObject(parentKey);
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') result[key] = mapStrings(item, visit, key);
    else if (PROTOCOL_KEYS.has(key) || (key === 'name' && functionObject) || isBase64Payload(parentKey, key, item)) result[key] = item;
    else if (key === 'arguments') result[key] = mapJsonText(item, visit);
    else result[key] = visit(item);
  }
  return result;
}

/**
 * Redacts every field of a chat message that can carry caller data. Content of tool results
 * (role tool or function) is redacted as JSON where it parses, so it stays valid JSON. Every other
 * string, such as text and input_text parts, image URLs, `refusal` and tool call arguments, goes
 * through mapStrings.
 */
export function redactMessage(message: unknown, redact: Redact): unknown {
  if (!isObject(message)) return message;
  const carriesJson = message.role === 'tool' || message.role === 'function';
  if (!carriesJson) return mapStrings(message, redact);

  const { content, ...rest } = message;
  const record: Record<string, unknown> = { ...message, ...(mapStrings(rest, redact) as Record<string, unknown>) };
  if (typeof content === 'string') record.content = mapJsonText(content, redact);
  else if (Array.isArray(content)) {
    record.content = content.map((part) => {
      if (isObject(part) && part.type === 'text' && typeof part.text === 'string') return { ...part, text: mapJsonText(part.text, redact) };
      return mapStrings(part, redact);
    });
  }
  return record;
}

/** Redacts a chat request: every message, then every other string of the body (user, metadata, stop, prediction, tools). */
export function redactChatBody(body: Record<string, unknown>, redact: Redact): Record<string, unknown> {
  const { messages, ...rest } = body;
  const redacted = mapStrings(rest, redact) as Record<string, unknown>;
  return { ...body, ...redacted, messages: Array.isArray(messages) ? messages.map((message) => redactMessage(message, redact)) : messages };
}

/**
 * Redacts a text that may be JSON. Parsed JSON has its keys, strings and numbers redacted and is
 * serialized again. Other text is redacted as text, and unchanged text is returned as it came.
 * A number is scanned as its source text, or as its integer digits when it has 13 to 19 of them
 * after expanding an exponent, so `4.111111111111111e15` is checked as a card number. A number
 * that contains personal data becomes a string with the replacement.
 */
export function mapJsonText(text: string, visit: Redact): string {
  let value: unknown;
  let changed = false;
  try {
    // The reviver reads each number's source text, because a 16-digit number loses digits as a double.
    value = JSON.parse(text, (_key, item: unknown, context?: { source?: string }) => {
      if (typeof item !== 'number' || context?.source === undefined) return item;
      const scanned = integerDigits(context.source) ?? context.source;
      const redacted = visit(scanned);
      if (redacted === scanned) return item;
      changed = true;
      return redacted;
    });
  } catch {
    return visit(text);
  }
  const mapped = mapJsonValue(value, (item) => {
    const result = visit(item);
    if (result !== item) changed = true;
    return result;
  });
  return changed ? JSON.stringify(mapped) : text;
}

/**
 * Returns the digits of a JSON number's integer value after expanding any exponent, or undefined
 * unless it has 13 to 19 digits, the length of a card number.
 */
export function integerDigits(source: string): string | undefined {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(source);
  if (!match) return undefined;
  const fraction = match[2] ?? '';
  let digits = match[1] + fraction;
  const exponent = Number(match[3] ?? '0') - fraction.length;
  if (exponent < 0) {
    const dropped = digits.slice(exponent);
    if (!/^0*$/.test(dropped)) return undefined;
    digits = digits.slice(0, exponent);
  }
  digits = digits.replace(/^0+/, '');
  const length = digits.length + Math.max(0, exponent);
  if (length < 13 || length > 19) return undefined;
  return digits + '0'.repeat(Math.max(0, exponent));
}

function mapJsonValue(value: unknown, visit: Redact): unknown {
  if (typeof value === 'string') return visit(value);
  if (Array.isArray(value)) return value.map((item) => mapJsonValue(item, visit));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [visit(key), mapJsonValue(item, visit)]));
  return value;
}

/** Whether an object under `parentKey` describes a function, whose `name` must match a declared one. */
function isFunctionObject(parentKey: string): boolean {
  return parentKey === 'function' || parentKey === 'function_call' || parentKey === 'functions';
}

function isBase64Payload(parentKey: string, key: string, value: string): boolean {
  if (key === 'url' && parentKey === 'image_url') return value.startsWith('data:');
  return key === 'data' && (parentKey === 'input_audio' || parentKey === 'audio') ? true : key === 'file_data' && parentKey === 'file';
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
