// The reason an administrator gives for a destructive action (block, revoke, suspend, reject): its field, its
// check (1 to 500 characters when required, at most 500 when optional; what is sent is trimmed) and the
// dialog that asks for it. The server's objection to the reason shows on the field; any other failure shows
// as an alert inside the dialog.
import { useState, type FormEvent, type ReactNode } from "react";
import { Alert, Form, FormGroup, Modal, ModalBody, ModalHeader, TextArea } from "@patternfly/react-core";
import { ApiProblem } from "../api/problem";
import { FieldHelp } from "./Fields";
import { FormFooter } from "./FormFooter";
import { ProblemAlert } from "./States";

/** The longest reason the server takes, in characters. */
export const MAX_REASON = 500;

/**
 * The reason's problem, if any, before it is sent. `missing`, when given, makes the reason required and is
 * what an empty one is told.
 */
export function checkReason(reason: string, missing?: string): string | null {
  const text = reason.trim();
  if (!text && missing) return missing;
  if ([...text].length > MAX_REASON) return `At most ${MAX_REASON} characters.`;
  return null;
}

/** The reason's text area; `help` stands under it until there is an error, which replaces it. */
export function ReasonField({
  id,
  value,
  error,
  required,
  help,
  onChange,
}: {
  id: string;
  value: string;
  error: string | null;
  required: boolean;
  help: string;
  onChange: (value: string) => void;
}) {
  return (
    <FormGroup label="Reason" isRequired={required} fieldId={id}>
      <TextArea
        id={id}
        value={value}
        onChange={(_e, v) => onChange(v)}
        isRequired={required}
        validated={error ? "error" : "default"}
        aria-invalid={!!error}
        aria-describedby={`${id}-help`}
        resizeOrientation="vertical"
      />
      <FieldHelp id={`${id}-help`} error={error} hint={help} />
    </FormGroup>
  );
}

/**
 * A dialog that asks for a reason before a destructive action, and hands the trimmed reason to `onSubmit`
 * once it passes the check ("" when optional and left empty). Its elements' ids start with `id`.
 */
export function ReasonDialog({
  id,
  title,
  confirm,
  help,
  missing,
  busy,
  error,
  warning,
  children,
  problemTitle = `${confirm} failed`,
  problemWithFieldError = false,
  plainTitle = false,
  onClose,
  onSubmit,
}: {
  id: string;
  title: string;
  /** The danger button's text. */
  confirm: string;
  /** What the field says under it until there is an error. */
  help: string;
  /** What an empty reason is told; without it the reason is optional. */
  missing?: string;
  busy: boolean;
  /** The action's error, if it failed. */
  error: unknown;
  /** A warning shown above the field. */
  warning?: string;
  /** What the action does, above the field. */
  children?: ReactNode;
  /** The title of the alert for a failure. */
  problemTitle?: string;
  /** Show that alert also when the failure is the reason's (which shows on the field anyway). */
  problemWithFieldError?: boolean;
  /** A title without the warning icon. */
  plainTitle?: boolean;
  onClose: () => void;
  onSubmit: (reason: string) => void;
}) {
  const [reason, setReason] = useState("");
  const [local, setLocal] = useState<string | null>(null);
  const server = error instanceof ApiProblem ? error.fieldError("reason") : undefined;
  const shown = local ?? server ?? null;
  const intro = children !== undefined;

  function submit(event: FormEvent) {
    event.preventDefault();
    const problem = checkReason(reason, missing);
    setLocal(problem);
    if (!problem) onSubmit(reason.trim());
  }

  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby={`${id}-title`}>
      <ModalHeader title={title} labelId={`${id}-title`} titleIconVariant={plainTitle ? undefined : "warning"} />
      <ModalBody>
        {intro && <p>{children}</p>}
        {warning && <Alert variant="warning" isInline isPlain title={warning} style={{ marginTop: "1rem" }} />}
        <Form id={`${id}-form`} onSubmit={submit} noValidate style={intro ? { marginTop: "1rem" } : undefined}>
          <ReasonField
            id={`${id}-reason`}
            value={reason}
            error={shown}
            required={!!missing}
            help={help}
            onChange={setReason}
          />
          {(problemWithFieldError || !server) && <ProblemAlert error={error} title={problemTitle} />}
        </Form>
      </ModalBody>
      <FormFooter form={`${id}-form`} variant="danger" busy={busy} onCancel={onClose}>
        {confirm}
      </FormFooter>
    </Modal>
  );
}
