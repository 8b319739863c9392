import { GraphQLError, Kind, type ASTVisitor, type SelectionSetNode, type ValidationContext } from 'graphql';

/**
 * Most lexical tokens in one GraphQL document. Parsing stops at this count, so an oversized query
 * costs bounded work before any token check runs. Warden's largest legitimate operation (an
 * ingestRecords call with its selection) has well under 200 tokens; records travel as variables,
 * which are JSON and not counted.
 */
export const MAX_QUERY_TOKENS = 2_000;

/** Most root fields in one operation: each root field is a policy check and may be a decision. */
export const MAX_ROOT_FIELDS = 10;

/**
 * Rejects operations whose root selection has more than MAX_ROOT_FIELDS fields, counting through
 * inline fragments and fragment spreads. A request with 5,000 aliases of `decide` would otherwise
 * make 5,000 decisions, or 5,000 ledger entries for denials, in one call.
 */
export function maxRootFieldsRule(context: ValidationContext): ASTVisitor {
  const countFields = (selectionSet: SelectionSetNode, seen: Set<string>): number => {
    let count = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) count += 1;
      else if (selection.kind === Kind.INLINE_FRAGMENT) count += countFields(selection.selectionSet, seen);
      else if (!seen.has(selection.name.value)) {
        seen.add(selection.name.value);
        const fragment = context.getFragment(selection.name.value);
        if (fragment) count += countFields(fragment.selectionSet, seen);
      }
    }
    return count;
  };

  return {
    OperationDefinition(node) {
      const count = countFields(node.selectionSet, new Set());
      if (count > MAX_ROOT_FIELDS) {
        context.reportError(
          new GraphQLError(`The operation selects ${count} root fields; at most ${MAX_ROOT_FIELDS} are allowed. Split it into several requests.`, {
            nodes: [node],
          }),
        );
      }
    },
  };
}
