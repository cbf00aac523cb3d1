// My API keys: prefix, models, status, spend against budget, expiry; create, rotate, edit limits, revoke.
import { useState } from "react";
import { Button, Content, MenuToggle, PageSection, Title } from "@patternfly/react-core";
import { EllipsisVIcon } from "@patternfly/react-icons";
import { ActionsColumn, Table, Tbody, Td, Th, Thead, type IAction } from "@patternfly/react-table";
import type { ApiKey, CreatedApiKey, PublicConfig } from "../api/client";
import { useApiKeys, useRevokeKey, useSelfServiceSettings, useSubscriptions } from "../api/queries";
import { ConfirmModal } from "../components/ConfirmModal";
import { Empty, Loading, ProblemView } from "../components/States";
import { CreateKeyModal } from "./keys/CreateKeyModal";
import { EditKeyModal } from "./keys/EditKeyModal";
import { KeyHeaderRow, KeyRow } from "./keys/KeyRow";
import { RotateKeyModal } from "./keys/RotateKeyModal";
import { SecretModal } from "./keys/SecretModal";

type Dialog =
  | { kind: "create" }
  | { kind: "secret"; created: CreatedApiKey; title: string }
  | { kind: "rotate"; key: ApiKey }
  | { kind: "edit"; key: ApiKey }
  | { kind: "revoke"; key: ApiKey }
  | null;

const LIVE = new Set(["active", "retiring", "provisioning"]);

export function KeysPage({ config }: { config: PublicConfig }) {
  const apiKeys = useApiKeys();
  const subscriptions = useSubscriptions();
  const settings = useSelfServiceSettings();
  const revoke = useRevokeKey();
  const [dialog, setDialog] = useState<Dialog>(null);
  const close = () => setDialog(null);

  const actions = (key: ApiKey): IAction[] => {
    const items: IAction[] = [];
    if (key.status === "active") {
      // A rotation would not lift an administrator's block: the server refuses it, so it is not offered.
      if (!key.blocked) items.push({ title: "Rotate", onClick: () => setDialog({ kind: "rotate", key }) });
      items.push({ title: "Edit limits", onClick: () => setDialog({ kind: "edit", key }) });
    }
    if (LIVE.has(key.status) || key.revocation_pending) {
      items.push({
        title: key.revocation_pending ? "Retry revocation" : "Revoke",
        onClick: () => {
          revoke.reset();
          setDialog({ kind: "revoke", key });
        },
      });
    }
    return items;
  };

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">API keys</Title>
        <Content component="p">
          Keys for LiteLLM at <code>{config.litellm_base_url}</code>, bound to your subscriptions. keyport shows a
          key's secret once, when it is created or rotated.
        </Content>
        <Button
          variant="primary"
          onClick={() => setDialog({ kind: "create" })}
          isDisabled={subscriptions.isPending || settings.isPending}
        >
          Create API key
        </Button>
      </PageSection>
      <PageSection>
        {apiKeys.isPending ? (
          <Loading what="your keys" />
        ) : apiKeys.isError ? (
          <ProblemView error={apiKeys.error} what="your keys" onRetry={() => apiKeys.refetch()} />
        ) : apiKeys.data.length === 0 ? (
          <Empty title="No API keys yet">Create a key to call your subscribed models through LiteLLM.</Empty>
        ) : (
          <Table aria-label="API keys" variant="compact">
            <Thead>
              <KeyHeaderRow>
                <Th screenReaderText="Actions" />
              </KeyHeaderRow>
            </Thead>
            <Tbody>
              {apiKeys.data.map((key) => {
                const items = actions(key);
                return (
                  <KeyRow
                    key={key.id}
                    apiKey={key}
                    spendLabel={`Spend of ${key.name}`}
                    budgetWindow
                    testId={`key-${key.name}`}
                  >
                    <Td isActionCell>
                      {items.length > 0 && (
                        <ActionsColumn
                          items={items}
                          popperProps={{ position: "right" }}
                          actionsToggle={({ onToggle, isOpen, isDisabled, toggleRef }) => (
                            <MenuToggle
                              ref={toggleRef}
                              onClick={onToggle}
                              isExpanded={isOpen}
                              isDisabled={isDisabled}
                              variant="plain"
                              aria-label={`Actions for ${key.name}`}
                              icon={<EllipsisVIcon />}
                            />
                          )}
                        />
                      )}
                    </Td>
                  </KeyRow>
                );
              })}
            </Tbody>
          </Table>
        )}
      </PageSection>

      {dialog?.kind === "create" && (
        <CreateKeyModal
          subscriptions={subscriptions.data ?? []}
          settings={settings.data}
          onClose={close}
          onCreated={(created) => setDialog({ kind: "secret", created, title: "Your new API key" })}
        />
      )}
      {dialog?.kind === "secret" && <SecretModal created={dialog.created} title={dialog.title} onClose={close} />}
      {dialog?.kind === "rotate" && (
        <RotateKeyModal
          apiKey={dialog.key}
          onClose={close}
          onRotated={(created) => setDialog({ kind: "secret", created, title: `The new key for ${dialog.key.name}` })}
        />
      )}
      {dialog?.kind === "edit" && (
        <EditKeyModal
          apiKey={dialog.key}
          subscriptions={subscriptions.data ?? []}
          settings={settings.data}
          onClose={close}
        />
      )}
      {dialog?.kind === "revoke" && (
        <ConfirmModal
          title={`Revoke ${dialog.key.name}?`}
          confirm="Revoke"
          busy={revoke.isPending}
          error={revoke.error}
          onClose={close}
          onConfirm={() => revoke.mutate(dialog.key.id, { onSuccess: close })}
        >
          The key <code>{dialog.key.prefix}…</code> stops working at once, for every client that uses it. This cannot
          be undone.
        </ConfirmModal>
      )}
    </>
  );
}
