// A key as a row of a key table: the user's own keys (KeysPage) and everybody's or one user's (the admin's
// AdminKeysTable) show the same cells — name, prefix, models, status, spend, expiry, creation — and each table
// adds its own: the owner in the table of everybody's keys, the actions at the end.
import type { ReactNode } from "react";
import { Label, LabelGroup, Tooltip } from "@patternfly/react-core";
import { Td, Th, Tr } from "@patternfly/react-table";
import type { ApiKey } from "../../api/client";
import { SpendBar } from "../../components/SpendBar";
import { formatDate, formatDateTime, formatDuration } from "../../format";

const STATUS_COLOR: Record<string, "green" | "orange" | "grey" | "red" | "blue"> = {
  active: "green",
  provisioning: "blue",
  retiring: "orange",
  revoked: "grey",
  expired: "grey",
  failed: "red",
  lost: "red",
};

/** The key's status, and what else its owner should know: a revocation or change not yet in LiteLLM, a block. */
export function KeyStatus({ apiKey }: { apiKey: ApiKey }) {
  return (
    <LabelGroup numLabels={4}>
      <Label color={STATUS_COLOR[apiKey.status] ?? "blue"}>{apiKey.status}</Label>
      {apiKey.revocation_pending && (
        <Tooltip content="keyport revoked the key; LiteLLM has not confirmed yet. keyport keeps trying.">
          <Label color="orange" tabIndex={0}>
            revocation pending
          </Label>
        </Tooltip>
      )}
      {apiKey.blocked && (apiKey.status === "active" || apiKey.status === "retiring") && (
        <Tooltip content={`Blocked by an administrator: ${apiKey.block_reason ?? "no reason given"}`}>
          <Label color="red" tabIndex={0}>
            blocked
          </Label>
        </Tooltip>
      )}
      {apiKey.status === "retiring" && apiKey.retire_at && (
        <Label color="orange">stops {formatDateTime(apiKey.retire_at)}</Label>
      )}
      {!apiKey.revocation_pending && apiKey.sync_state === "pending" && apiKey.status !== "revoked" && (
        <Tooltip content={apiKey.last_sync_error ?? "A change is waiting to reach LiteLLM."}>
          <Label color="blue" tabIndex={0}>
            sync pending
          </Label>
        </Tooltip>
      )}
    </LabelGroup>
  );
}

/** The header of a table of KeyRows: `owner` when the rows have an Owner cell; the table's own header cells after. */
export function KeyHeaderRow({ owner = false, children }: { owner?: boolean; children?: ReactNode }) {
  return (
    <Tr>
      <Th>Name</Th>
      {owner && <Th>Owner</Th>}
      <Th>Key</Th>
      <Th>Models</Th>
      <Th>Status</Th>
      <Th>Spend</Th>
      <Th>Expires</Th>
      <Th>Created</Th>
      {children}
    </Tr>
  );
}

export function KeyRow({
  apiKey: k,
  spendLabel,
  owner,
  budgetWindow = false,
  testId,
  children,
}: {
  apiKey: ApiKey;
  /** The spend bar's accessible name. */
  spendLabel: string;
  /** The Owner cell's content, in a table of several users' keys. */
  owner?: ReactNode;
  /** Under the spend, the budget's window and when it resets next. */
  budgetWindow?: boolean;
  testId?: string;
  /** The table's own cells after the shared ones (its actions). */
  children?: ReactNode;
}) {
  return (
    <Tr data-testid={testId}>
      <Td dataLabel="Name">{k.name}</Td>
      {owner !== undefined && <Td dataLabel="Owner">{owner}</Td>}
      <Td dataLabel="Key">
        <code className="kp-nowrap">{k.prefix}…</code>
      </Td>
      <Td dataLabel="Models">
        <LabelGroup>
          {k.models.map((m) => (
            <Label key={m} isCompact>
              {m}
            </Label>
          ))}
        </LabelGroup>
      </Td>
      <Td dataLabel="Status">
        <KeyStatus apiKey={k} />
      </Td>
      <Td dataLabel="Spend">
        <SpendBar spend={k.spend} budget={k.limits.max_budget} label={spendLabel} />
        {budgetWindow && k.limits.budget_duration && k.limits.max_budget && (
          <small>
            per {formatDuration(k.limits.budget_duration)}
            {k.budget_reset_at && <>, resets {formatDateTime(k.budget_reset_at)}</>}
          </small>
        )}
      </Td>
      <Td dataLabel="Expires">{k.expires_at ? formatDate(k.expires_at) : "never"}</Td>
      <Td dataLabel="Created">{formatDateTime(k.created_at)}</Td>
      {children}
    </Tr>
  );
}
