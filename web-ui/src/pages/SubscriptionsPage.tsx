// My subscriptions: status with its reason, quota, what the bound keys spent, cancel.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { Button, Content, PageSection, Title } from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import type { ApiKey, Subscription } from "../api/client";
import { useApiKeys, useCancelSubscription, useSubscriptions } from "../api/queries";
import { ConfirmModal } from "../components/ConfirmModal";
import { Empty, Loading, ProblemView } from "../components/States";
import { SpendBar } from "../components/SpendBar";
import { SubscriptionLabel } from "../components/SubscribeButton";
import { formatBudget, formatDateTime, formatInteger } from "../format";
import { modelPath } from "./CatalogPage";

const LIVE = new Set(["provisioning", "active", "retiring"]);

/** What the keys bound to a subscription spent (a key bound to several counts in each). */
function spendOf(subscription: Subscription, apiKeys: ApiKey[]): string {
  const total = apiKeys
    .filter((k) => k.subscription_ids.includes(subscription.id))
    .reduce((sum, k) => sum + Number(k.spend ?? 0), 0);
  return total.toFixed(6);
}

export function SubscriptionsPage() {
  const subscriptions = useSubscriptions();
  const apiKeys = useApiKeys();
  const cancel = useCancelSubscription();
  const [cancelling, setCancelling] = useState<Subscription | null>(null);
  const liveKeys = useMemo(() => (apiKeys.data ?? []).filter((k) => LIVE.has(k.status)), [apiKeys.data]);

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">My subscriptions</Title>
        <Content component="p">
          A subscription lets your keys use a model within its quota. Cancel one once no live key uses it.
        </Content>
      </PageSection>
      <PageSection>
        {subscriptions.isPending ? (
          <Loading what="your subscriptions" />
        ) : subscriptions.isError ? (
          <ProblemView error={subscriptions.error} what="your subscriptions" onRetry={() => subscriptions.refetch()} />
        ) : subscriptions.data.length === 0 ? (
          <Empty title="No subscriptions yet" action={<Link to="/models">Browse the model catalog</Link>}>
            Subscribe to a model in the catalog to create API keys for it.
          </Empty>
        ) : (
          <Table aria-label="Subscriptions" variant="compact">
            <Thead>
              <Tr>
                <Th>Model</Th>
                <Th>Status</Th>
                <Th>Quota</Th>
                <Th>Rate limits</Th>
                <Th>Spend by its keys</Th>
                <Th>Since</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {subscriptions.data.map((s) => {
                const keysUsing = liveKeys.filter((k) => k.subscription_ids.includes(s.id)).length;
                return (
                  <Tr key={s.id}>
                    <Td dataLabel="Model">
                      <Link to={modelPath(s.model_id)}>{s.model_id}</Link>
                    </Td>
                    <Td dataLabel="Status">
                      <SubscriptionLabel subscription={s} />
                      {s.status_reason && (
                        <div>
                          <small>{s.status_reason}</small>
                        </div>
                      )}
                    </Td>
                    <Td dataLabel="Quota">{formatBudget(s.quota)}</Td>
                    <Td dataLabel="Rate limits">
                      {formatInteger(s.quota.tpm_limit)} tokens/min, {formatInteger(s.quota.rpm_limit)} requests/min
                    </Td>
                    <Td dataLabel="Spend by its keys">
                      {apiKeys.isPending ? (
                        "…"
                      ) : (
                        <SpendBar
                          spend={spendOf(s, apiKeys.data ?? [])}
                          budget={s.quota.max_budget}
                          label={`Spend of ${s.model_id}`}
                        />
                      )}
                    </Td>
                    <Td dataLabel="Since">{formatDateTime(s.created_at)}</Td>
                    <Td dataLabel="Actions" isActionCell>
                      {(s.status === "active" || s.status === "pending") && (
                        <Button
                          variant="secondary"
                          isDanger
                          size="sm"
                          onClick={() => {
                            cancel.reset();
                            setCancelling(s);
                          }}
                          aria-label={`Cancel subscription to ${s.model_id}`}
                          isDisabled={keysUsing > 0}
                          title={keysUsing > 0 ? `${keysUsing} live key(s) use it: revoke them first` : undefined}
                        >
                          Cancel
                        </Button>
                      )}
                    </Td>
                  </Tr>
                );
              })}
            </Tbody>
          </Table>
        )}
      </PageSection>
      {cancelling && (
        <ConfirmModal
          title={`Cancel the subscription to ${cancelling.model_id}?`}
          confirm="Cancel subscription"
          busy={cancel.isPending}
          error={cancel.error}
          onClose={() => setCancelling(null)}
          onConfirm={() => cancel.mutate(cancelling.id, { onSuccess: () => setCancelling(null) })}
        >
          Your keys can no longer use {cancelling.model_id}. You can subscribe again later
          {cancelling.status === "pending" ? "; the pending request is withdrawn." : "."}
        </ConfirmModal>
      )}
    </>
  );
}
