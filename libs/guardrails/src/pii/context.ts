/** Maximum distance in UTF-16 units between the end of a context label and the value it labels. */
export const DEFAULT_CONTEXT_WINDOW = 40;

/**
 * True when `label` matches somewhere in the `window` characters before `start`, as in
 * "account number: 12345678" or "DOB 1985-03-12". `label` must not have the global or sticky flag,
 * because `test` would then keep state between calls.
 */
export function hasLabelBefore(text: string, start: number, label: RegExp, window = DEFAULT_CONTEXT_WINDOW): boolean {
  return label.test(text.slice(Math.max(0, start - window), start));
}
