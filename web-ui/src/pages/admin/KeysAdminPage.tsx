// Everybody's API keys (never a secret): owner, models, status, spend; admins block, unblock, change the
// limits of and revoke any of them on the owner's behalf (KeyControls). Also the key list of one user's page.
import { useState } from "react";
import { Link } from "react-router";
import {
  FormSelect,
  FormSelectOption,
  Label,
  LabelGroup,
  PageSection,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { allItems, useAdminKeys, type AdminKey, type KeyStatusValue } from "../../api/admin";
import { apiEnums } from "../../api/enums";
import { SpendBar } from "../../components/SpendBar";
import { Empty, Loading, ProblemView } from "../../components/States";
import { formatDate, formatDateTime } from "../../format";
import { KeyStatus } from "../KeysPage";
import { KeyActionButtons, KeyActionModal, type KeyAction } from "./KeyControls";
import { LoadMore, PageHeader, useCanChange } from "./shared";

const STATUSES: readonly KeyStatusValue[] = apiEnums.ApiKeyDto.status;

export function AdminKeysTable({ userId, status }: { userId?: string; status?: KeyStatusValue }) {
  const canChange = useCanChange();
  const apiKeys = useAdminKeys({ user_id: userId, status });
  const [dialog, setDialog] = useState<{ action: KeyAction; key: AdminKey } | null>(null);
  const items = allItems(apiKeys.data?.pages);

  if (apiKeys.isPending) return <Loading what="the keys" />;
  if (apiKeys.isError) return <ProblemView error={apiKeys.error} what="the keys" onRetry={() => apiKeys.refetch()} />;
  if (items.length === 0) return <Empty title="No keys">{status ? `No ${status} keys.` : "No keys yet."}</Empty>;
  return (
    <>
      <Table aria-label={userId ? "The user's keys" : "All keys"} variant="compact">
        <Thead>
          <Tr>
            <Th>Name</Th>
            {!userId && <Th>Owner</Th>}
            <Th>Key</Th>
            <Th>Models</Th>
            <Th>Status</Th>
            <Th>Spend</Th>
            <Th>Expires</Th>
            <Th>Created</Th>
            {canChange && <Th screenReaderText="Actions" />}
          </Tr>
        </Thead>
        <Tbody>
          {items.map((k) => (
            <Tr key={k.id}>
              <Td dataLabel="Name">{k.name}</Td>
              {!userId && (
                <Td dataLabel="Owner">
                  <Link to={`/admin/users/${k.user_id}`}>{k.owner_username}</Link>
                </Td>
              )}
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
                <SpendBar spend={k.spend} budget={k.limits.max_budget == null ? null : String(k.limits.max_budget)} label={`Spend of ${k.owner_username}'s ${k.name}`} />
              </Td>
              <Td dataLabel="Expires">{k.expires_at ? formatDate(k.expires_at) : "never"}</Td>
              <Td dataLabel="Created">{formatDateTime(k.created_at)}</Td>
              {canChange && (
                <Td isActionCell>
                  <KeyActionButtons apiKey={k} onAction={(action) => setDialog({ action, key: k })} />
                </Td>
              )}
            </Tr>
          ))}
        </Tbody>
      </Table>
      <LoadMore query={apiKeys} />
      {dialog && <KeyActionModal action={dialog.action} apiKey={dialog.key} onClose={() => setDialog(null)} />}
    </>
  );
}

export function KeysAdminPage() {
  const [status, setStatus] = useState<KeyStatusValue | "">("");
  return (
    <>
      <PageHeader title="All keys">Everybody's API keys, newest first. keyport never shows a key's secret again.</PageHeader>
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <FormSelect aria-label="Key status" value={status} onChange={(_e, v) => setStatus(v as KeyStatusValue | "")}>
                <FormSelectOption value="" label="Any status" />
                {STATUSES.map((s) => (
                  <FormSelectOption key={s} value={s} label={s} />
                ))}
              </FormSelect>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        <AdminKeysTable status={status || undefined} />
      </PageSection>
    </>
  );
}
