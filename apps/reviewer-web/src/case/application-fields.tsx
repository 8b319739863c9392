import type { CaseField } from '../api/review.types';

interface ApplicationFieldsProps {
  /** Heading of the table: "Application" for a decision, "Question, draft answer and sources" for an answer. */
  heading: string;
  fields: CaseField[];
  /** Unmasked values this page has fetched, by field name. */
  revealed: Record<string, string>;
  hidden: Set<string>;
  onReveal: (field: string) => void;
  onHide: (field: string) => void;
  onShowAgain: (field: string) => void;
}

/** Lists the application's feature values. Masked PII fields offer a reveal that needs a reason. */
export function ApplicationFields({ heading, fields, revealed, hidden, onReveal, onHide, onShowAgain }: ApplicationFieldsProps) {
  if (fields.length === 0) return null;

  return (
    <section className="panel" aria-labelledby="application-heading">
      <h2 id="application-heading">{heading}</h2>
      <table className="fields-table">
        <thead>
          <tr>
            <th scope="col">Field</th>
            <th scope="col">Value</th>
            <th scope="col">
              <span className="visually-hidden">Masking</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {fields.map((field) => {
            const revealedValue = revealed[field.name];
            const showRevealed = field.masked && revealedValue !== undefined && !hidden.has(field.name);
            return (
              <tr key={field.name}>
                <th scope="row">
                  <code>{field.name}</code>
                </th>
                <td>
                  <span data-testid="field-value" data-field={field.name} data-masked={field.masked && !showRevealed}>
                    {showRevealed ? revealedValue : field.value}
                  </span>
                  {field.description && !field.masked ? (
                    <span className="field-description" data-testid="field-description" data-field={field.name}>
                      {field.description}
                    </span>
                  ) : null}
                </td>
                <td className="field-actions">
                  {field.masked ? (
                    <FieldMaskControl
                      name={field.name}
                      state={maskState(revealedValue !== undefined, showRevealed)}
                      onReveal={onReveal}
                      onHide={onHide}
                      onShowAgain={onShowAgain}
                    />
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

type MaskState = 'masked' | 'revealed' | 'hidden-again';

function maskState(fetched: boolean, shown: boolean): MaskState {
  if (!fetched) return 'masked';
  return shown ? 'revealed' : 'hidden-again';
}

interface FieldMaskControlProps {
  name: string;
  state: MaskState;
  onReveal: (field: string) => void;
  onHide: (field: string) => void;
  onShowAgain: (field: string) => void;
}

function FieldMaskControl({ name, state, onReveal, onHide, onShowAgain }: FieldMaskControlProps) {
  if (state === 'revealed') {
    return (
      <>
        <span className="tag tag-revealed">Revealed</span>
        <button type="button" className="button-small" data-testid="hide-button" data-field={name} onClick={() => onHide(name)}>
          Hide<span className="visually-hidden"> {name}</span>
        </button>
      </>
    );
  }

  // A value fetched once is shown again without a second ledger entry.
  if (state === 'hidden-again') {
    return (
      <>
        <span className="tag">Masked</span>
        <button type="button" className="button-small" data-testid="show-button" data-field={name} onClick={() => onShowAgain(name)}>
          Show<span className="visually-hidden"> {name}</span>
        </button>
      </>
    );
  }

  return (
    <>
      <span className="tag">Masked</span>
      <button type="button" className="button-small" data-testid="reveal-button" data-field={name} onClick={() => onReveal(name)}>
        Reveal<span className="visually-hidden"> {name}</span>
      </button>
    </>
  );
}
