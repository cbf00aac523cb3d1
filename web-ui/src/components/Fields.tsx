// A form field's parts that every form repeats: the text under it (its error when it has one, else its hint,
// or only its error), a labelled text input with that text, marked invalid while it has an error, and a
// fieldset with its legend.
import type { ReactNode } from "react";
import {
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  TextInput,
  type TextInputProps,
} from "@patternfly/react-core";

/** A group of fields under a legend styled as a field's label (the limits' rows, the settings' sections). */
export function Fieldset({ legend, children }: { legend: ReactNode; children: ReactNode }) {
  return (
    <fieldset className="kp-fieldset">
      <legend className="pf-v6-c-form__label">
        <span className="pf-v6-c-form__label-text">{legend}</span>
      </legend>
      {children}
    </fieldset>
  );
}

/** The text under a field; `id` is what the field's `aria-describedby` names. */
export function FieldHelp({ id, error, hint }: { id: string; error: string | null | undefined; hint: ReactNode }) {
  return (
    <FormHelperText>
      <HelperText id={id}>
        <HelperTextItem variant={error ? "error" : "default"}>{error ?? hint}</HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}

/** A field's error alone, for a field without a hint; nothing while it has none. */
export function FieldError({ id, error }: { id?: string; error: string | null | undefined }) {
  if (!error) return null;
  return (
    <FormHelperText>
      <HelperText id={id}>
        <HelperTextItem variant="error">{error}</HelperTextItem>
      </HelperText>
    </FormHelperText>
  );
}

/**
 * A labelled text input with its help (`${id}-help`) under it: its hint or error, or without a hint its error
 * alone (the input described by it only while there is one). The other props go to the input.
 */
export function TextField({
  id,
  label,
  isRequired,
  error,
  hint,
  ...input
}: {
  id: string;
  label: ReactNode;
  isRequired?: boolean;
  error: string | null | undefined;
  hint?: ReactNode;
} & Omit<TextInputProps, "id" | "label" | "isRequired" | "validated" | "aria-invalid" | "aria-describedby">) {
  return (
    <FormGroup label={label} isRequired={isRequired} fieldId={id}>
      <TextInput
        id={id}
        isRequired={isRequired}
        {...input}
        validated={error ? "error" : "default"}
        aria-invalid={!!error}
        aria-describedby={hint === undefined && !error ? undefined : `${id}-help`}
      />
      {hint === undefined ? (
        <FieldError id={`${id}-help`} error={error} />
      ) : (
        <FieldHelp id={`${id}-help`} error={error} hint={hint} />
      )}
    </FormGroup>
  );
}
