// Rotate a key: a new secret with the same name, subscriptions, limits and expiry; the old key keeps working
// for the chosen overlap, so running clients can switch over.
import { useState } from "react";
import { Button, Form, FormGroup, Modal, ModalBody, ModalFooter, ModalHeader, Radio } from "@patternfly/react-core";
import type { ApiKey, CreatedApiKey } from "../../api/client";
import { useRotateKey } from "../../api/queries";
import { ProblemAlert } from "../../components/States";

export const OVERLAPS: { seconds: number; label: string }[] = [
  { seconds: 0, label: "Stop the old key now" },
  { seconds: 600, label: "Keep the old key working for 10 minutes" },
  { seconds: 3600, label: "Keep the old key working for 1 hour" },
  { seconds: 86400, label: "Keep the old key working for 1 day" },
  { seconds: 7 * 86400, label: "Keep the old key working for 7 days" },
];

export function RotateKeyModal({
  apiKey,
  onClose,
  onRotated,
}: {
  apiKey: ApiKey;
  onClose: () => void;
  onRotated: (created: CreatedApiKey) => void;
}) {
  const rotate = useRotateKey();
  const [overlap, setOverlap] = useState(0);
  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby="rotate-title">
      <ModalHeader title={`Rotate ${apiKey.name}`} labelId="rotate-title" />
      <ModalBody>
        <p>
          A new key with the same name, models and limits replaces <code>{apiKey.prefix}…</code>. Its secret is
          shown once.
        </p>
        <Form onSubmit={(e) => e.preventDefault()}>
          <FormGroup role="radiogroup" label="The old key" fieldId="rotate-overlap" isStack>
            {OVERLAPS.map((o) => (
              <Radio
                key={o.seconds}
                id={`overlap-${o.seconds}`}
                name="overlap"
                label={o.label}
                isChecked={overlap === o.seconds}
                onChange={() => setOverlap(o.seconds)}
              />
            ))}
          </FormGroup>
        </Form>
        <ProblemAlert error={rotate.error} title="The key was not rotated" />
      </ModalBody>
      <ModalFooter>
        <Button
          variant="primary"
          isLoading={rotate.isPending}
          isDisabled={rotate.isPending}
          onClick={() => rotate.mutate({ id: apiKey.id, overlapSeconds: overlap }, { onSuccess: onRotated })}
        >
          Rotate
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}
