// Create a key: a name, one or more active subscriptions, limits prefilled from their quotas, an optional
// expiry. Everything is checked before sending; the server's field errors land on their fields.
import { useMemo, useState, type FormEvent } from "react";
import { Link } from "react-router";
import {
  Checkbox,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalHeader,
  TextInput,
} from "@patternfly/react-core";
import type { CreatedApiKey, SelfServiceSettings, Subscription } from "../../api/client";
import { ApiProblem, asProblem } from "../../api/problem";
import { useCreateKey } from "../../api/queries";
import { FieldError, TextField } from "../../components/Fields";
import { FormFooter } from "../../components/FormFooter";
import { ProblemAlert } from "../../components/States";
import { formatBudget } from "../../format";
import { LimitsFields } from "../../limits/LimitsFields";
import { inputToLimits, keyCap, limitErrorsUnder, limitsToInput, prefill, validateLimits } from "../../limits/limits";
import type { LimitField, LimitsInput } from "../../limits/limits";

type Errors = Partial<Record<"name" | "subscriptions" | "expires" | LimitField, string>>;

/** The end of the chosen day in the user's zone, as the API's RFC 3339 time. */
export function endOfDay(date: string): string | null {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return null;
  const d = new Date(`${date}T23:59:59`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

export function validateName(name: string): string | undefined {
  const trimmed = name.trim();
  if (!trimmed) return "Give the key a name.";
  if ([...trimmed].length > 64) return "At most 64 characters.";
  return undefined;
}

export function validateExpiry(date: string, maxDays?: number | null, now = new Date()): string | undefined {
  if (!date) return undefined;
  const iso = endOfDay(date);
  if (!iso) return "Pick a date.";
  if (new Date(iso) <= now) return "Pick a day in the future.";
  if (maxDays && new Date(iso).getTime() > now.getTime() + (maxDays + 1) * 86_400_000)
    return `At most ${maxDays} days from today (the administrator's maximum).`;
  return undefined;
}

/** Puts the server's field errors on the form's fields; what names no field stays in the alert. */
export function serverFieldErrors(problem: ApiProblem): Errors {
  const errors: Errors = limitErrorsUnder("limits", problem.errors);
  for (const { field, message } of problem.errors) {
    if (field === "name") errors.name = message;
    else if (field.startsWith("subscription_ids")) errors.subscriptions = message;
    else if (field === "expires_at") errors.expires = message;
  }
  return errors;
}

export function CreateKeyModal({
  subscriptions,
  settings,
  onClose,
  onCreated,
}: {
  subscriptions: Subscription[];
  settings?: SelfServiceSettings;
  onClose: () => void;
  onCreated: (created: CreatedApiKey) => void;
}) {
  const create = useCreateKey();
  const active = useMemo(() => subscriptions.filter((s) => s.status === "active"), [subscriptions]);
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<string[]>(active.length === 1 && active[0] ? [active[0].id] : []);
  const startWith = (ids: string[]) => {
    const chosenSubs = active.filter((s) => ids.includes(s.id));
    return limitsToInput(prefill(keyCap(chosenSubs, settings), settings?.key_default_limits));
  };
  const [limits, setLimits] = useState<LimitsInput>(() => startWith(chosen));
  const [touched, setTouched] = useState<Set<LimitField>>(new Set());
  const [expires, setExpires] = useState("");
  const [errors, setErrors] = useState<Errors>({});

  const cap = keyCap(
    active.filter((s) => chosen.includes(s.id)),
    settings,
  );
  const maxDays = settings?.key_max_lifetime_days ?? null;

  function choose(id: string, on: boolean) {
    const next = on ? [...chosen, id] : chosen.filter((c) => c !== id);
    setChosen(next);
    // Untouched limits follow the quota of what is chosen; what the user typed stays.
    const defaults = startWith(next);
    setLimits((current) => {
      const updated = { ...current };
      for (const field of Object.keys(defaults) as LimitField[]) {
        if (!touched.has(field)) updated[field] = defaults[field];
      }
      return updated;
    });
    setErrors((e) => ({ ...e, subscriptions: undefined }));
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Errors = {
      name: validateName(name),
      subscriptions: chosen.length === 0 ? "Choose at least one subscription." : undefined,
      expires: validateExpiry(expires, maxDays),
      ...validateLimits(limits, cap),
    };
    const clean = Object.fromEntries(Object.entries(found).filter(([, v]) => v)) as Errors;
    setErrors(clean);
    if (Object.keys(clean).length > 0) return;
    create.mutate(
      {
        name: name.trim(),
        subscription_ids: chosen,
        limits: inputToLimits(limits),
        expires_at: expires ? endOfDay(expires) : null,
      },
      {
        onSuccess: (created) => onCreated(created),
        onError: (e) => setErrors(serverFieldErrors(asProblem(e))),
      },
    );
  }

  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="create-key-title">
      <ModalHeader title="Create an API key" labelId="create-key-title" />
      <ModalBody>
        {active.length === 0 ? (
          <p>
            A key needs at least one active subscription, and you have none yet.{" "}
            <Link to="/models" onClick={onClose}>
              Subscribe to a model
            </Link>{" "}
            first.
          </p>
        ) : (
          <Form id="create-key-form" onSubmit={submit} noValidate>
            <TextField
              id="key-name"
              label="Name"
              isRequired
              error={errors.name}
              value={name}
              onChange={(_e, v) => setName(v)}
              placeholder="ci-pipeline"
            />
            <FormGroup
              label="Subscriptions"
              isRequired
              role="group"
              fieldId="key-subscriptions"
              isStack
              aria-describedby={errors.subscriptions ? "key-subscriptions-error" : undefined}
            >
              {active.map((s) => (
                <Checkbox
                  key={s.id}
                  id={`sub-${s.id}`}
                  label={s.model_id}
                  description={`Quota: ${formatBudget(s.quota)}`}
                  isChecked={chosen.includes(s.id)}
                  onChange={(_e, on) => choose(s.id, on)}
                />
              ))}
              <FieldError id="key-subscriptions-error" error={errors.subscriptions} />
            </FormGroup>
            <LimitsFields
              idPrefix="key"
              value={limits}
              cap={cap}
              errors={errors}
              onChange={(field, v) => {
                setTouched((t) => new Set(t).add(field));
                setLimits((l) => ({ ...l, [field]: v }));
              }}
            />
            <FormGroup label="Expires (end of the day, your time)" fieldId="key-expires">
              {!errors.expires && (maxDays || settings?.key_default_lifetime_days) && (
                <FormHelperText>
                  <HelperText>
                    <HelperTextItem>
                      {settings?.key_default_lifetime_days
                        ? `Empty: ${settings.key_default_lifetime_days} days. `
                        : ""}
                      {maxDays ? `At most ${maxDays} days.` : ""}
                    </HelperTextItem>
                  </HelperText>
                </FormHelperText>
              )}
              <TextInput
                id="key-expires"
                type="date"
                value={expires}
                onChange={(_e, v) => setExpires(v)}
                validated={errors.expires ? "error" : "default"}
                aria-invalid={!!errors.expires}
                aria-describedby={errors.expires ? "key-expires-error" : undefined}
              />
              <FieldError id="key-expires-error" error={errors.expires} />
            </FormGroup>
            <ProblemAlert error={create.error} title="The key was not created" />
          </Form>
        )}
      </ModalBody>
      <FormFooter form="create-key-form" busy={create.isPending} hideSubmit={active.length === 0} onCancel={onClose}>
        Create key
      </FormFooter>
    </Modal>
  );
}
