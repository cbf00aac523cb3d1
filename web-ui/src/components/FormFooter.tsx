// The footer of a dialog whose body is a form: the button that submits that form (busy while the action
// runs) and Cancel.
import type { ReactNode } from "react";
import { Button, ModalFooter } from "@patternfly/react-core";

export function FormFooter({
  form,
  busy,
  variant = "primary",
  hideSubmit = false,
  onCancel,
  children,
}: {
  /** The id of the form the button submits. */
  form: string;
  busy: boolean;
  variant?: "primary" | "danger";
  /** Only Cancel, when there is nothing the form could submit. */
  hideSubmit?: boolean;
  onCancel: () => void;
  /** The submit button's text. */
  children: ReactNode;
}) {
  return (
    <ModalFooter>
      {!hideSubmit && (
        <Button type="submit" form={form} variant={variant} isLoading={busy} isDisabled={busy}>
          {children}
        </Button>
      )}
      <Button variant="link" onClick={onCancel}>
        Cancel
      </Button>
    </ModalFooter>
  );
}
