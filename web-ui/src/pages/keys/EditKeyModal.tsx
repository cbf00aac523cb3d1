// Edit a key's limits and expiry, within its subscriptions' quotas.
import { useState, type FormEvent } from "react";
import {
  Checkbox,
  Form,
  FormGroup,
  Modal,
  ModalBody,
  ModalHeader,
  TextInput,
} from "@patternfly/react-core";
import type { ApiKey, SelfServiceSettings, Subscription } from "../../api/client";
import { asProblem } from "../../api/problem";
import { useUpdateKey } from "../../api/queries";
import { FieldError } from "../../components/Fields";
import { FormFooter } from "../../components/FormFooter";
import { ProblemAlert } from "../../components/States";
import { LimitsFields } from "../../limits/LimitsFields";
import { inputToLimits, keyCap, limitsToInput, validateLimits } from "../../limits/limits";
import type { LimitField, LimitsInput } from "../../limits/limits";
import { endOfDay, serverFieldErrors, validateExpiry } from "./CreateKeyModal";

type Errors = Partial<Record<"expires" | LimitField, string>>;

function localDate(iso: string | null | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function EditKeyModal({
  apiKey,
  subscriptions,
  settings,
  onClose,
}: {
  apiKey: ApiKey;
  subscriptions: Subscription[];
  settings?: SelfServiceSettings;
  onClose: () => void;
}) {
  const update = useUpdateKey();
  const cap = keyCap(
    subscriptions.filter((s) => apiKey.subscription_ids.includes(s.id)),
    settings,
  );
  const [limits, setLimits] = useState<LimitsInput>(limitsToInput(apiKey.limits));
  const [expires, setExpires] = useState(localDate(apiKey.expires_at));
  const [neverExpires, setNeverExpires] = useState(!apiKey.expires_at);
  const [errors, setErrors] = useState<Errors>({});

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Errors = {
      ...validateLimits(limits, cap),
      expires: neverExpires ? undefined : expires ? validateExpiry(expires, settings?.key_max_lifetime_days) : "Pick a date, or choose never.",
    };
    const clean = Object.fromEntries(Object.entries(found).filter(([, v]) => v)) as Errors;
    setErrors(clean);
    if (Object.keys(clean).length > 0) return;
    update.mutate(
      {
        id: apiKey.id,
        body: { limits: inputToLimits(limits), expires_at: neverExpires ? null : endOfDay(expires) },
      },
      { onSuccess: onClose, onError: (e) => setErrors(serverFieldErrors(asProblem(e))) },
    );
  }

  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="edit-key-title">
      <ModalHeader title={`Limits of ${apiKey.name}`} labelId="edit-key-title" />
      <ModalBody>
        <Form id="edit-key-form" onSubmit={submit} noValidate>
          <LimitsFields
            idPrefix="edit"
            value={limits}
            cap={cap}
            errors={errors}
            onChange={(field, v) => setLimits((l) => ({ ...l, [field]: v }))}
          />
          <FormGroup label="Expiry" fieldId="edit-expires">
            <Checkbox
              id="edit-never"
              label="Never expires"
              isChecked={neverExpires}
              onChange={(_e, on) => setNeverExpires(on)}
            />
            {!neverExpires && (
              <TextInput
                id="edit-expires"
                type="date"
                aria-label="Expires at the end of"
                value={expires}
                onChange={(_e, v) => setExpires(v)}
                validated={errors.expires ? "error" : "default"}
                aria-invalid={!!errors.expires}
              />
            )}
            <FieldError error={errors.expires} />
          </FormGroup>
          <ProblemAlert error={update.error} title="The key was not changed" />
        </Form>
      </ModalBody>
      <FormFooter form="edit-key-form" busy={update.isPending} onCancel={onClose}>
        Save
      </FormFooter>
    </Modal>
  );
}
