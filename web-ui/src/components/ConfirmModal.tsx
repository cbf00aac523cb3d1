// A confirmation dialog for a destructive action; the action's error shows inside it.
import type { ReactNode } from "react";
import { Button, Modal, ModalBody, ModalFooter, ModalHeader } from "@patternfly/react-core";
import { ProblemAlert } from "./States";

export function ConfirmModal({
  title,
  children,
  confirm,
  onConfirm,
  onClose,
  busy,
  error,
}: {
  title: string;
  children: ReactNode;
  confirm: string;
  onConfirm: () => void;
  onClose: () => void;
  busy: boolean;
  error: unknown;
}) {
  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby="confirm-title" aria-describedby="confirm-body">
      <ModalHeader title={title} labelId="confirm-title" titleIconVariant="warning" />
      <ModalBody id="confirm-body">
        {children}
        <ProblemAlert error={error} title={`${confirm} failed`} />
      </ModalBody>
      <ModalFooter>
        <Button variant="danger" onClick={onConfirm} isLoading={busy} isDisabled={busy}>
          {confirm}
        </Button>
        <Button variant="link" onClick={onClose}>
          Keep it
        </Button>
      </ModalFooter>
    </Modal>
  );
}
