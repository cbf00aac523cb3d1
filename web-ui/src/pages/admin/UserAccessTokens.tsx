// A user's personal access tokens on their administration page: administrators and auditors see them (never a
// secret); administrators revoke a live one, after a confirmation, and the list is read again.
import { useState } from "react";
import { Button, Label } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { useRevokeUserAccessToken, useUserAccessTokens, type AdminUserDetail, type UserAccessToken } from "../../api/admin";
import { ConfirmModal } from "../../components/ConfirmModal";
import { Empty, Loading, ProblemView } from "../../components/States";
import { formatDate, formatDateTime } from "../../format";
import { DoneNotice, useCanChange } from "./shared";

const STATUS_COLOR: Record<string, "green" | "orange" | "grey"> = { active: "green", expired: "orange", revoked: "grey" };

export function TokenStatus({ token }: { token: UserAccessToken }) {
  return <Label color={STATUS_COLOR[token.status] ?? "grey"}>{token.status}</Label>;
}

export function UserAccessTokens({ user }: { user: AdminUserDetail }) {
  const canChange = useCanChange();
  const tokens = useUserAccessTokens(user.id);
  const revoke = useRevokeUserAccessToken();
  const [revoking, setRevoking] = useState<UserAccessToken | null>(null);
  const [done, setDone] = useState<string | null>(null);

  if (tokens.isPending) return <Loading what="the access tokens" />;
  if (tokens.isError)
    return <ProblemView error={tokens.error} what="the access tokens" onRetry={() => tokens.refetch()} />;
  if (tokens.data.length === 0)
    return <Empty title="No access tokens">{user.username} has made no personal access token.</Empty>;
  return (
    <>
      <DoneNotice message={done} onClose={() => setDone(null)} />
      <Table aria-label="The user's access tokens" variant="compact">
        <Thead>
          <Tr>
            <Th>Name</Th>
            <Th>Token</Th>
            <Th>Scopes</Th>
            <Th>Status</Th>
            <Th>Expires</Th>
            <Th>Last used</Th>
            <Th>Created</Th>
            {canChange && <Th screenReaderText="Actions" />}
          </Tr>
        </Thead>
        <Tbody>
          {tokens.data.map((t) => (
            <Tr key={t.id}>
              <Td dataLabel="Name">{t.name}</Td>
              <Td dataLabel="Token">
                <code>{t.prefix}…</code>
              </Td>
              <Td dataLabel="Scopes">{t.scopes.join(", ")}</Td>
              <Td dataLabel="Status">
                <TokenStatus token={t} />
                {t.revoked_at && (
                  <div>
                    <small>{formatDateTime(t.revoked_at)}</small>
                  </div>
                )}
              </Td>
              <Td dataLabel="Expires">{t.expires_at ? formatDate(t.expires_at) : "never"}</Td>
              <Td dataLabel="Last used">{t.last_used_at ? formatDateTime(t.last_used_at) : "never"}</Td>
              <Td dataLabel="Created">{formatDateTime(t.created_at)}</Td>
              {canChange && (
                <Td isActionCell dataLabel="Actions">
                  {t.status === "active" && (
                    <Button
                      variant="secondary"
                      isDanger
                      size="sm"
                      aria-label={`Revoke ${user.username}'s token ${t.name}`}
                      onClick={() => {
                        revoke.reset();
                        setDone(null);
                        setRevoking(t);
                      }}
                    >
                      Revoke
                    </Button>
                  )}
                </Td>
              )}
            </Tr>
          ))}
        </Tbody>
      </Table>
      {revoking && (
        <ConfirmModal
          title={`Revoke ${user.username}'s token ${revoking.name}?`}
          confirm="Revoke"
          busy={revoke.isPending}
          error={revoke.error}
          onClose={() => setRevoking(null)}
          onConfirm={() =>
            revoke.mutate(
              { userId: user.id, tokenId: revoking.id },
              {
                onSuccess: () => {
                  setRevoking(null);
                  setDone(`${user.username}'s token ${revoking.name} is revoked.`);
                },
              },
            )
          }
        >
          Scripts using <code>{revoking.prefix}…</code> can no longer call keyport as {user.username}. This cannot be
          undone: {user.username} would have to make a new token.
        </ConfirmModal>
      )}
    </>
  );
}
