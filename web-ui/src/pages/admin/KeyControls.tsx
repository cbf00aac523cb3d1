// An administrator's controls of anybody's key, on its owner's behalf: block (active or retiring, with the
// reason the owner sees), unblock, change its limits (active; within the owner's quotas) and revoke (with an
// optional reason kept in the audit log). Each opens a dialog; the server's refusal (a 409 when the key's
// state no longer allows it) shows inside it, its field errors on their fields. There is no rotation here:
// an administrator never receives another user's secret. Auditors get none of this: the caller shows the
// controls to admins only.
import { useState, type FormEvent } from "react";
import {
  Button,
  Flex,
  FlexItem,
  Form,
  Modal,
  ModalBody,
  ModalHeader,
} from "@patternfly/react-core";
import {
  allItems,
  useAdminRevokeKey,
  useAdminSubscriptions,
  useBlockKey,
  useSetKeyLimits,
  useUnblockKey,
  type AdminKey,
} from "../../api/admin";
import { ApiProblem } from "../../api/problem";
import { useSelfServiceSettings } from "../../api/queries";
import { ConfirmModal } from "../../components/ConfirmModal";
import { FormFooter } from "../../components/FormFooter";
import { checkReason, MAX_REASON, ReasonDialog, ReasonField } from "../../components/ReasonDialog";
import { ProblemAlert } from "../../components/States";
import { LimitsFields } from "../../limits/LimitsFields";
import { checkLimits, inputToLimits, keyCap, limitErrorsUnder, limitsToInput } from "../../limits/limits";
import type { LimitField, LimitsInput } from "../../limits/limits";

export type KeyAction = "block" | "unblock" | "limits" | "revoke";

const LIVE = new Set(["active", "retiring"]);

/** What an administrator may do with a key in its state. */
export function keyActionsFor(k: AdminKey): KeyAction[] {
  const actions: KeyAction[] = [];
  if (LIVE.has(k.status)) actions.push(k.blocked ? "unblock" : "block");
  if (k.status === "active") actions.push("limits");
  if (LIVE.has(k.status) || k.status === "lost" || k.revocation_pending) actions.push("revoke");
  return actions;
}

const whose = (k: AdminKey) => `${k.owner_username}'s key ${k.name}`;

/** The row's buttons; their names say whose key they change. */
export function KeyActionButtons({ apiKey: k, onAction }: { apiKey: AdminKey; onAction: (action: KeyAction) => void }) {
  const actions = keyActionsFor(k);
  if (actions.length === 0) return null;
  const text: Record<KeyAction, string> = {
    block: "Block…",
    unblock: "Unblock",
    limits: "Limits…",
    revoke: k.revocation_pending ? "Retry revocation" : "Revoke…",
  };
  const name: Record<KeyAction, string> = {
    block: "Block",
    unblock: "Unblock",
    limits: "Edit the limits of",
    revoke: "Revoke",
  };
  return (
    <Flex spaceItems={{ default: "spaceItemsSm" }} flexWrap={{ default: "nowrap" }}>
      {actions.map((action) => (
        <FlexItem key={action}>
          <Button
            variant="secondary"
            size="sm"
            isDanger={action === "block" || action === "revoke"}
            aria-label={`${name[action]} ${whose(k)}`}
            onClick={() => onAction(action)}
          >
            {text[action]}
          </Button>
        </FlexItem>
      ))}
    </Flex>
  );
}

interface ModalProps {
  apiKey: AdminKey;
  onClose: () => void;
}

/** The dialog of one action on one key. */
export function KeyActionModal({ action, apiKey, onClose }: ModalProps & { action: KeyAction }) {
  switch (action) {
    case "block":
      return <BlockModal apiKey={apiKey} onClose={onClose} />;
    case "unblock":
      return <UnblockModal apiKey={apiKey} onClose={onClose} />;
    case "limits":
      return <LimitsModal apiKey={apiKey} onClose={onClose} />;
    case "revoke":
      return <RevokeModal apiKey={apiKey} onClose={onClose} />;
  }
}

const REQUIRED_HELP = `Shown to the key's owner; 1 to ${MAX_REASON} characters.`;
const OPTIONAL_HELP = `Optional, kept in the audit log; at most ${MAX_REASON} characters.`;
const MISSING = "Give a reason: the key's owner sees it.";

function BlockModal({ apiKey: k, onClose }: ModalProps) {
  const block = useBlockKey();
  return (
    <ReasonDialog
      id="block-key"
      title={`Block ${whose(k)}?`}
      confirm="Block"
      help={REQUIRED_HELP}
      missing={MISSING}
      busy={block.isPending}
      error={block.error}
      onClose={onClose}
      onSubmit={(reason) => block.mutate({ id: k.id, reason }, { onSuccess: onClose })}
    >
      LiteLLM refuses the key <code>{k.prefix}…</code> at once, for every client that uses it, until you unblock it.
      It keeps its settings; {k.owner_username} sees it blocked with your reason and cannot rotate it meanwhile.
    </ReasonDialog>
  );
}

function UnblockModal({ apiKey: k, onClose }: ModalProps) {
  const unblock = useUnblockKey();
  return (
    <ConfirmModal
      title={`Unblock ${whose(k)}?`}
      confirm="Unblock"
      busy={unblock.isPending}
      error={unblock.error}
      onClose={onClose}
      onConfirm={() => unblock.mutate(k.id, { onSuccess: onClose })}
    >
      LiteLLM accepts the key <code>{k.prefix}…</code> again, unless {k.owner_username} or all its subscriptions are
      suspended.
    </ConfirmModal>
  );
}

function RevokeModal({ apiKey: k, onClose }: ModalProps) {
  const revoke = useAdminRevokeKey();
  return (
    <ReasonDialog
      id="revoke-key"
      title={`Revoke ${whose(k)}?`}
      confirm="Revoke"
      help={OPTIONAL_HELP}
      busy={revoke.isPending}
      error={revoke.error}
      onClose={onClose}
      onSubmit={(reason) => revoke.mutate({ id: k.id, reason: reason || undefined }, { onSuccess: onClose })}
    >
      The key <code>{k.prefix}…</code> stops working at once for every client that uses it. Its owner sees it revoked.
      This cannot be undone.
    </ReasonDialog>
  );
}

/** The key's new limits, prefilled from the current ones, within the owner's quotas. */
function LimitsModal({ apiKey: k, onClose }: ModalProps) {
  const change = useSetKeyLimits();
  const settings = useSelfServiceSettings();
  const owners = useAdminSubscriptions({ user_id: k.user_id, status: "active" });
  const bound = allItems(owners.data?.pages).filter((s) => k.subscription_ids.includes(s.id));
  const cap = keyCap(bound, settings.data);
  const [value, setValue] = useState<LimitsInput>(() => limitsToInput(k.limits));
  const [reason, setReason] = useState("");
  const [local, setLocal] = useState<Partial<Record<LimitField | "reason", string>>>({});
  const problems = change.error instanceof ApiProblem ? change.error.errors : [];
  const server: Partial<Record<LimitField | "reason", string>> = limitErrorsUnder("limits", problems);
  const reasonProblem = problems.findLast((e) => e.field === "reason");
  if (reasonProblem) server.reason = reasonProblem.message;
  const errors = { ...server, ...local };
  const { reason: reasonError, ...limitErrors } = errors;

  function submit(event: FormEvent) {
    event.preventDefault();
    const found: Partial<Record<LimitField | "reason", string>> = { ...checkLimits(value) };
    const problem = checkReason(reason);
    if (problem) found.reason = problem;
    setLocal(found);
    if (Object.keys(found).length > 0) return;
    change.mutate(
      { id: k.id, limits: inputToLimits(value), reason: reason.trim() || undefined },
      { onSuccess: onClose },
    );
  }

  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="key-limits-title">
      <ModalHeader title={`Limits of ${whose(k)}`} labelId="key-limits-title" />
      <ModalBody>
        <p>
          The limits of this key alone, within the quotas of {k.owner_username}&apos;s subscriptions it is bound to and
          the maximum for keys; an empty limit takes the tightest quota. LiteLLM applies them at once.
        </p>
        <Form id="key-limits-form" onSubmit={submit} noValidate style={{ marginTop: "1rem" }}>
          <LimitsFields
            idPrefix="key-limits"
            value={value}
            cap={cap}
            errors={limitErrors}
            onChange={(field, v) => setValue((prev) => ({ ...prev, [field]: v }))}
          />
          <ReasonField
            id="key-limits-reason"
            value={reason}
            error={reasonError ?? null}
            required={false}
            help={OPTIONAL_HELP}
            onChange={setReason}
          />
          {Object.keys(server).length === 0 && <ProblemAlert error={change.error} title="The limits were not changed" />}
        </Form>
      </ModalBody>
      <FormFooter form="key-limits-form" busy={change.isPending} onCancel={onClose}>
        Save limits
      </FormFooter>
    </Modal>
  );
}
