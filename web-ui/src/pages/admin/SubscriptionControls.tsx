// An administrator's controls of one subscription: suspend (active, with a reason), reactivate (suspended),
// revoke (pending, active or suspended, with a reason) and change its quota (active or suspended). Each opens
// a dialog; the server's refusal (a 409 when the status no longer allows it) shows inside it, its field
// errors on their fields. Auditors get none of this: the caller shows the controls to admins only.
import { useState, type FormEvent } from "react";
import { Button, Flex, FlexItem, Form, Modal, ModalBody, ModalHeader } from "@patternfly/react-core";
import {
  useChangeSubscriptionQuota,
  useReactivateSubscription,
  useRevokeSubscription,
  useSuspendSubscription,
  type AdminSubscription,
} from "../../api/admin";
import { ApiProblem } from "../../api/problem";
import { ConfirmModal } from "../../components/ConfirmModal";
import { FormFooter } from "../../components/FormFooter";
import { MAX_REASON, ReasonDialog } from "../../components/ReasonDialog";
import { ProblemAlert } from "../../components/States";
import { LimitsFields } from "../../limits/LimitsFields";
import { checkLimits, inputToLimits, limitErrorsUnder, limitsToInput } from "../../limits/limits";
import type { LimitField, LimitsInput } from "../../limits/limits";

export type SubscriptionAction = "suspend" | "reactivate" | "revoke" | "quota";

/** What an administrator may do with a subscription in its status. */
export function actionsFor(status: string): SubscriptionAction[] {
  switch (status) {
    case "active":
      return ["suspend", "quota", "revoke"];
    case "suspended":
      return ["reactivate", "quota", "revoke"];
    case "pending":
      return ["revoke"];
    default:
      return [];
  }
}

const BUTTON_TEXT: Record<SubscriptionAction, string> = {
  suspend: "Suspend…",
  reactivate: "Reactivate",
  revoke: "Revoke…",
  quota: "Change quota…",
};

/** The row's buttons; their names say whose subscription to which model they change. */
export function SubscriptionActionButtons({
  subscription: s,
  onAction,
}: {
  subscription: AdminSubscription;
  onAction: (action: SubscriptionAction) => void;
}) {
  const actions = actionsFor(s.status);
  if (actions.length === 0) return null;
  return (
    <Flex spaceItems={{ default: "spaceItemsSm" }}>
      {actions.map((action) => (
        <FlexItem key={action}>
          <Button
            variant="secondary"
            size="sm"
            isDanger={action === "suspend" || action === "revoke"}
            aria-label={`${BUTTON_TEXT[action]} ${s.owner_username}'s ${s.model_id}`}
            onClick={() => onAction(action)}
          >
            {BUTTON_TEXT[action]}
          </Button>
        </FlexItem>
      ))}
    </Flex>
  );
}

/** The dialog of one action on one subscription; `onDone` gets what to tell the administrator it did. */
export function SubscriptionActionModal({
  action,
  subscription,
  onClose,
  onDone,
}: {
  action: SubscriptionAction;
  subscription: AdminSubscription;
  onClose: () => void;
  onDone: (message: string) => void;
}) {
  switch (action) {
    case "suspend":
      return <SuspendModal subscription={subscription} onClose={onClose} onDone={onDone} />;
    case "revoke":
      return <RevokeModal subscription={subscription} onClose={onClose} onDone={onDone} />;
    case "reactivate":
      return <ReactivateModal subscription={subscription} onClose={onClose} onDone={onDone} />;
    case "quota":
      return <QuotaModal subscription={subscription} onClose={onClose} onDone={onDone} />;
  }
}

interface ModalProps {
  subscription: AdminSubscription;
  onClose: () => void;
  onDone: (message: string) => void;
}

const whose = (s: AdminSubscription) => `${s.owner_username}'s ${s.model_id}`;

function SuspendModal({ subscription: s, onClose, onDone }: ModalProps) {
  const suspend = useSuspendSubscription();
  return (
    <ReasonDialog
      {...REASON}
      title={`Suspend ${whose(s)}`}
      confirm="Suspend"
      busy={suspend.isPending}
      error={suspend.error}
      onClose={onClose}
      onSubmit={(reason) =>
        suspend.mutate(
          { id: s.id, reason },
          { onSuccess: (answer) => onDone(`${whose(s)} is ${answer.status}.`) },
        )
      }
    >
      The model leaves {s.owner_username}&apos;s keys and LiteLLM pool at once. A key that serves only suspended
      subscriptions is blocked, not revoked, and works again when you reactivate.
    </ReasonDialog>
  );
}

function RevokeModal({ subscription: s, onClose, onDone }: ModalProps) {
  const revoke = useRevokeSubscription();
  return (
    <ReasonDialog
      {...REASON}
      title={`Revoke ${whose(s)}`}
      confirm="Revoke"
      busy={revoke.isPending}
      error={revoke.error}
      onClose={onClose}
      onSubmit={(reason) =>
        revoke.mutate({ id: s.id, reason }, { onSuccess: (answer) => onDone(`${whose(s)} is ${answer.status}.`) })
      }
      warning={`Keys that serve only this subscription are revoked; ${s.owner_username}'s other keys lose its model. This cannot be undone: ${s.owner_username} would have to subscribe again.`}
    >
      The subscription is cancelled.
    </ReasonDialog>
  );
}

function ReactivateModal({ subscription: s, onClose, onDone }: ModalProps) {
  const reactivate = useReactivateSubscription();
  return (
    <ConfirmModal
      title={`Reactivate ${whose(s)}?`}
      confirm="Reactivate"
      busy={reactivate.isPending}
      error={reactivate.error}
      onClose={onClose}
      onConfirm={() =>
        reactivate.mutate(s.id, { onSuccess: (answer) => onDone(`${whose(s)} is ${answer.status}.`) })
      }
    >
      The model returns to the keys bound to it and to {s.owner_username}&apos;s LiteLLM pool; keys blocked by the
      suspension work again.
    </ConfirmModal>
  );
}

/** What the reason dialogs of a suspension and a revocation share: the user sees the reason. */
const REASON = {
  id: "subscription-action",
  help: `Shown to the user; 1 to ${MAX_REASON} characters.`,
  missing: "Give a reason: the user sees it.",
} as const;

/** The subscription's new quota, prefilled from the current one; an empty limit is unlimited. */
function QuotaModal({ subscription: s, onClose, onDone }: ModalProps) {
  const change = useChangeSubscriptionQuota();
  const [value, setValue] = useState<LimitsInput>(() => limitsToInput(s.quota));
  const [local, setLocal] = useState<Partial<Record<LimitField, string>>>({});
  const server = limitErrorsUnder("quota", change.error instanceof ApiProblem ? change.error.errors : []);
  const errors = { ...server, ...local };

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = checkLimits(value);
    setLocal(found);
    if (Object.keys(found).length > 0) return;
    change.mutate(
      { id: s.id, quota: inputToLimits(value) },
      { onSuccess: () => onDone(`${whose(s)} has its new quota.`) },
    );
  }

  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="subscription-quota-title">
      <ModalHeader title={`Change the quota of ${whose(s)}`} labelId="subscription-quota-title" />
      <ModalBody>
        <p>
          Every limit replaces the current one; an empty one is unlimited. It is the pool all of{" "}
          {s.owner_username}&apos;s keys share on this model, and it applies at once; the keys&apos; own limits stay
          as sub-limits within it.
        </p>
        <Form id="subscription-quota-form" onSubmit={submit} noValidate style={{ marginTop: "1rem" }}>
          <LimitsFields
            idPrefix="subscription-quota"
            legend="Quota"
            value={value}
            errors={errors}
            onChange={(field, v) => setValue((prev) => ({ ...prev, [field]: v }))}
          />
          {Object.keys(server).length === 0 && <ProblemAlert error={change.error} title="The quota was not changed" />}
        </Form>
      </ModalBody>
      <FormFooter form="subscription-quota-form" busy={change.isPending} onCancel={onClose}>
        Save quota
      </FormFooter>
    </Modal>
  );
}
