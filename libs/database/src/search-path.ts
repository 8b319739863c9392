/**
 * The search_path of every Warden connection. PostgreSQL searches pg_catalog before the schemas of
 * a search_path that leaves it out ("The System Catalog Schema" in the PostgreSQL manual), so
 * built-in operators and functions come first. `public` contains pgvector's type and operators and
 * TypeORM's migrations table. Naming pg_catalog in the list would make it the schema that
 * unqualified CREATE statements write to, such as the migration's CREATE EXTENSION vector.
 * NOTE: an operator or function in `public` whose argument types fit better than pg_catalog's can
 * still be chosen, so only Warden's own role should be allowed to create objects in `public`.
 */
export const WARDEN_SEARCH_PATH = 'public';

/** The `-c` switch of the `options` startup parameter that sets WARDEN_SEARCH_PATH. */
const SEARCH_PATH_SWITCH = `-c search_path=${WARDEN_SEARCH_PATH}`;

/**
 * Returns the server URL `url` with WARDEN_SEARCH_PATH added to its `options` query parameter,
 * which node-postgres sends as the `options` startup parameter. That parameter overrides ALTER
 * DATABASE and ALTER ROLE settings and applies before the first query. The switch goes after any
 * options that the URL already carries, so it also overrides a search_path among them. A URL that
 * already ends with the switch is returned unchanged.
 */
export function withPinnedSearchPath(url: string): string {
  const parsed = new URL(url);
  // node-postgres (pg-connection-string 2.x) reads the last of repeated query parameters, and
  // set() below replaces them all, so the switch joins the options that the server would get.
  const options = parsed.searchParams.getAll('options').at(-1)?.trim() ?? '';
  if (options === SEARCH_PATH_SWITCH || options.endsWith(` ${SEARCH_PATH_SWITCH}`)) return url;
  parsed.searchParams.set('options', options === '' ? SEARCH_PATH_SWITCH : `${options} ${SEARCH_PATH_SWITCH}`);
  return parsed.toString();
}
