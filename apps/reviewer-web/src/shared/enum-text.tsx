import { Fragment } from 'react';

/**
 * Renders an enum value such as AWAITING_SECOND_REVIEW so that it wraps after an underscore
 * instead of inside a word. The text content stays the exact value.
 */
export function EnumText({ value }: { value: string }) {
  const parts = value.split('_');
  return (
    <>
      {parts.map((part, index) => (
        <Fragment key={index}>
          {part}
          {index < parts.length - 1 ? (
            <>
              _<wbr />
            </>
          ) : null}
        </Fragment>
      ))}
    </>
  );
}
