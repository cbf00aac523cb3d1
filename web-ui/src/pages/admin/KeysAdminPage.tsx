// Everybody's API keys (never a secret): owner, models, status, spend; admins block, unblock, change the
// limits of and revoke any of them on the owner's behalf (KeyControls). Also the key list of one user's page.
import { useState } from "react";
import { Link } from "react-router";
import {
  FormSelect,
  FormSelectOption,
  PageSection,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead } from "@patternfly/react-table";
import { allItems, useAdminKeys, type AdminKey, type KeyStatusValue } from "../../api/admin";
import { apiEnums } from "../../api/enums";
import { Empty, Loading, ProblemView } from "../../components/States";
import { KeyHeaderRow, KeyRow } from "../keys/KeyRow";
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
          <KeyHeaderRow owner={!userId}>{canChange && <Th screenReaderText="Actions" />}</KeyHeaderRow>
        </Thead>
        <Tbody>
          {items.map((k) => (
            <KeyRow
              key={k.id}
              apiKey={k}
              spendLabel={`Spend of ${k.owner_username}'s ${k.name}`}
              owner={userId ? undefined : <Link to={`/admin/users/${k.user_id}`}>{k.owner_username}</Link>}
            >
              {canChange && (
                <Td isActionCell>
                  <KeyActionButtons apiKey={k} onAction={(action) => setDialog({ action, key: k })} />
                </Td>
              )}
            </KeyRow>
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
