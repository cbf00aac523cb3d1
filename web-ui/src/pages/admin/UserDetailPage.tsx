// One user for administrators: who they are, their roles (admins change them), suspension, their keys, their
// subscriptions with each one's history, and their personal access tokens; admins suspend, reactivate, revoke and
// re-quota each subscription, and revoke a live token. Auditors see the same without the controls.
import { useState, type ReactNode } from "react";
import { Link, useParams } from "react-router";
import {
  ActionGroup,
  Breadcrumb,
  BreadcrumbItem,
  Button,
  Checkbox,
  Flex,
  FlexItem,
  FormSelect,
  FormSelectOption,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Modal,
  ModalBody,
  ModalHeader,
  PageSection,
  Title,
  Alert,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import {
  allItems,
  useAdminSubscriptions,
  useAdminUser,
  useChangeRoles,
  useGrantSubscription,
  useSetUserStatus,
  useSubscriptionHistory,
  type AdminSubscription,
  type AdminUserDetail, type Role } from "../../api/admin";
import { useMe, useModels } from "../../api/queries";
import { ApiProblem } from "../../api/problem";
import { ConfirmModal } from "../../components/ConfirmModal";
import { FieldHelp } from "../../components/Fields";
import { SubscriptionLabel } from "../../components/SubscribeButton";
import { Empty, Loading, ProblemAlert, ProblemView } from "../../components/States";
import { formatDate, formatDateTime, formatLimits } from "../../format";
import { AdminKeysTable } from "./KeysAdminPage";
import { DoneNotice, LoadMore, useCanChange } from "./shared";
import { SubscriptionActionButtons, SubscriptionActionModal, type SubscriptionAction } from "./SubscriptionControls";
import { UserAccessTokens } from "./UserAccessTokens";
import { RoleLabels, UserStatus } from "./UsersPage";

export function UserDetailPage() {
  const { id = "" } = useParams();
  const user = useAdminUser(id);
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem render={() => <Link to="/admin/users">Users</Link>} />
          <BreadcrumbItem isActive>{user.data?.username ?? id}</BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      {user.isPending ? (
        <Loading what="the user" />
      ) : user.isError ? (
        <PageSection>
          <ProblemView error={user.error} what="the user" onRetry={() => user.refetch()} />
        </PageSection>
      ) : (
        <UserDetail user={user.data} />
      )}
    </>
  );
}

function UserDetail({ user }: { user: AdminUserDetail }) {
  const canChange = useCanChange();
  const me = useMe();
  const self = me.data?.user.id === user.id;
  const status = useSetUserStatus();
  const [confirming, setConfirming] = useState(false);
  const suspended = user.status === "suspended";

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">{user.display_name || user.username}</Title>
        {!canChange && (
          <Alert variant="info" isInline isPlain title="Read-only: auditors see this page without its changes." />
        )}
        <DescriptionList isHorizontal isCompact style={{ marginTop: "1rem" }}>
          <Item term="Username">{user.username}</Item>
          <Item term="Email">{user.email ?? "—"}</Item>
          <Item term="Status">
            <UserStatus status={user.status} />
          </Item>
          <Item term="Since">{formatDate(user.created_at)}</Item>
          <Item term="Keys">
            {user.live_keys} live of {user.keys}
          </Item>
          <Item term="Subscriptions">
            {user.active_subscriptions} active, {user.pending_subscriptions} pending, of {user.subscriptions}
          </Item>
          {!canChange && (
            <Item term="Roles">
              <RoleLabels roles={user.roles} />
            </Item>
          )}
        </DescriptionList>
        {canChange && (
          <>
            <RolesForm user={user} self={self} />
            <ActionGroup style={{ marginTop: "1rem" }}>
              <Button
                variant={suspended ? "secondary" : "danger"}
                isDisabled={self && !suspended}
                onClick={() => {
                  status.reset();
                  setConfirming(true);
                }}
              >
                {suspended ? "Reactivate" : "Suspend"}
              </Button>
            </ActionGroup>
            {self && !suspended && <small>You cannot suspend yourself.</small>}
          </>
        )}
      </PageSection>
      <PageSection>
        <Title headingLevel="h2">Keys</Title>
        <AdminKeysTable userId={user.id} />
      </PageSection>
      <PageSection>
        <Title headingLevel="h2">Subscriptions</Title>
        {canChange && <GrantForm user={user} />}
        <UserSubscriptions userId={user.id} />
      </PageSection>
      <PageSection>
        <Title headingLevel="h2">Personal access tokens</Title>
        <UserAccessTokens user={user} />
      </PageSection>
      {confirming && (
        <ConfirmModal
          title={suspended ? `Reactivate ${user.username}?` : `Suspend ${user.username}?`}
          confirm={suspended ? "Reactivate" : "Suspend"}
          busy={status.isPending}
          error={status.error}
          onClose={() => setConfirming(false)}
          onConfirm={() => status.mutate({ id: user.id, suspend: !suspended }, { onSuccess: () => setConfirming(false) })}
        >
          {suspended
            ? "Their access tokens work again and their keys are unblocked in LiteLLM."
            : "Their sessions and access tokens stop at once, and their keys are blocked in LiteLLM until you reactivate them."}
        </ConfirmModal>
      )}
    </>
  );
}

function Item({ term, children }: { term: string; children: ReactNode }) {
  return (
    <DescriptionListGroup>
      <DescriptionListTerm>{term}</DescriptionListTerm>
      <DescriptionListDescription>{children}</DescriptionListDescription>
    </DescriptionListGroup>
  );
}

function RolesForm({ user, self }: { user: AdminUserDetail; self: boolean }) {
  const change = useChangeRoles();
  const [admin, setAdmin] = useState(user.roles.includes("admin"));
  const [auditor, setAuditor] = useState(user.roles.includes("auditor"));
  const [local, setLocal] = useState<string | null>(null);
  const server = change.error instanceof ApiProblem ? change.error.fieldError("roles") : undefined;
  const error = local ?? server;
  const unchanged = admin === user.roles.includes("admin") && auditor === user.roles.includes("auditor");

  return (
    <Form
      aria-label="Roles"
      style={{ marginTop: "1rem" }}
      onSubmit={(e) => {
        e.preventDefault();
        if (self && !admin) return setLocal("You cannot remove your own administrator role.");
        setLocal(null);
        const roles: Role[] = ["user", ...(admin ? ["admin" as const] : []), ...(auditor ? ["auditor" as const] : [])];
        change.mutate({ id: user.id, roles });
      }}
    >
      <FormGroup role="group" isInline fieldId="roles" label="Roles">
        <Checkbox id="role-user" label="User (always)" isChecked isDisabled />
        <Checkbox id="role-admin" label="Administrator" isChecked={admin} onChange={(_e, v) => setAdmin(v)} />
        <Checkbox id="role-auditor" label="Auditor" isChecked={auditor} onChange={(_e, v) => setAuditor(v)} />
        {error && (
          <FormHelperText>
            <HelperText>
              <HelperTextItem variant="error">{error}</HelperTextItem>
            </HelperText>
          </FormHelperText>
        )}
      </FormGroup>
      {!server && <ProblemAlert error={change.error} title="The roles were not changed" />}
      {change.isSuccess && unchanged && <Alert variant="success" isInline isPlain title="Roles saved." role="status" />}
      <ActionGroup>
        <Button type="submit" variant="primary" isDisabled={unchanged || change.isPending} isLoading={change.isPending}>
          Save roles
        </Button>
      </ActionGroup>
    </Form>
  );
}

/** Grant: a subscription active at once (also for a restricted model), with the model's default quota, capped. */
function GrantForm({ user }: { user: AdminUserDetail }) {
  const models = useModels();
  const grant = useGrantSubscription();
  const [model, setModel] = useState("");
  const [local, setLocal] = useState<string | null>(null);
  const server = grant.error instanceof ApiProblem ? grant.error.fieldError("model_id") : undefined;
  const error = local ?? server;
  return (
    <Form
      aria-label="Grant a subscription"
      style={{ margin: "1rem 0" }}
      onSubmit={(e) => {
        e.preventDefault();
        if (!model) return setLocal("Choose a model.");
        setLocal(null);
        grant.mutate({ user_id: user.id, model_id: model }, { onSuccess: () => setModel("") });
      }}
    >
      <Flex alignItems={{ default: "alignItemsFlexEnd" }}>
        <FlexItem>
          <FormGroup label="Grant a subscription to" fieldId="grant-model">
            <FormSelect
              id="grant-model"
              value={model}
              onChange={(_e, v) => setModel(v)}
              validated={error ? "error" : "default"}
              aria-invalid={!!error}
              aria-describedby="grant-model-help"
            >
              <FormSelectOption value="" label={models.isPending ? "Loading models…" : "Choose a model"} />
              {(models.data ?? []).map((m) => (
                <FormSelectOption key={m.id} value={m.id} label={`${m.display_name}${m.restricted ? " (restricted)" : ""}`} />
              ))}
            </FormSelect>
            <FieldHelp
              id="grant-model-help"
              error={error}
              hint="Active at once, also for a restricted model, with the model's default quota."
            />
          </FormGroup>
        </FlexItem>
        <FlexItem>
          <Button type="submit" variant="secondary" isLoading={grant.isPending} isDisabled={grant.isPending}>
            Grant
          </Button>
        </FlexItem>
      </Flex>
      {models.isError && <ProblemAlert error={models.error} title="Could not load the models" />}
      {!server && <ProblemAlert error={grant.error} title="The subscription was not granted" />}
      {grant.isSuccess && <Alert variant="success" isInline isPlain title={`Granted ${grant.data.model_id}.`} role="status" />}
    </Form>
  );
}

/** The status reasons worth showing next to the status: why it was suspended, revoked or rejected. */
const REASONED = new Set(["suspended", "cancelled", "rejected"]);

function UserSubscriptions({ userId }: { userId: string }) {
  const canChange = useCanChange();
  const subscriptions = useAdminSubscriptions({ user_id: userId });
  const [history, setHistory] = useState<AdminSubscription | null>(null);
  const [acting, setActing] = useState<{ action: SubscriptionAction; subscription: AdminSubscription } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const items = allItems(subscriptions.data?.pages);
  if (subscriptions.isPending) return <Loading what="the subscriptions" />;
  if (subscriptions.isError)
    return <ProblemView error={subscriptions.error} what="the subscriptions" onRetry={() => subscriptions.refetch()} />;
  if (items.length === 0) return <Empty title="No subscriptions" />;
  return (
    <>
      <DoneNotice message={done} onClose={() => setDone(null)} />
      <Table aria-label="The user's subscriptions" variant="compact">
        <Thead>
          <Tr>
            <Th>Model</Th>
            <Th>Status</Th>
            <Th>Quota</Th>
            <Th>Changed</Th>
            <Th screenReaderText="History" />
            {canChange && <Th screenReaderText="Actions" />}
          </Tr>
        </Thead>
        <Tbody>
          {items.map((s) => (
            <Tr key={s.id}>
              <Td dataLabel="Model">{s.model_id}</Td>
              <Td dataLabel="Status">
                <SubscriptionLabel subscription={s} />
                {s.status_reason && REASONED.has(s.status) && (
                  <div>
                    <small>{s.status_reason}</small>
                  </div>
                )}
              </Td>
              <Td dataLabel="Quota">{formatLimits(s.quota)}</Td>
              <Td dataLabel="Changed">{formatDateTime(s.updated_at)}</Td>
              <Td>
                <Button variant="link" isInline onClick={() => setHistory(s)} aria-label={`History of ${s.model_id}`}>
                  History
                </Button>
              </Td>
              {canChange && (
                <Td isActionCell dataLabel="Actions">
                  <SubscriptionActionButtons
                    subscription={s}
                    onAction={(action) => {
                      setDone(null);
                      setActing({ action, subscription: s });
                    }}
                  />
                </Td>
              )}
            </Tr>
          ))}
        </Tbody>
      </Table>
      <LoadMore query={subscriptions} />
      {history && <HistoryModal subscription={history} onClose={() => setHistory(null)} />}
      {acting && (
        <SubscriptionActionModal
          action={acting.action}
          subscription={acting.subscription}
          onClose={() => setActing(null)}
          onDone={(message) => {
            setActing(null);
            setDone(message);
          }}
        />
      )}
    </>
  );
}

function HistoryModal({ subscription, onClose }: { subscription: AdminSubscription; onClose: () => void }) {
  const history = useSubscriptionHistory(subscription.id, true);
  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="history-title">
      <ModalHeader title={`History of ${subscription.owner_username}'s ${subscription.model_id}`} labelId="history-title" />
      <ModalBody>
        {history.isPending ? (
          <Loading what="the history" />
        ) : history.isError ? (
          <ProblemView error={history.error} what="the history" onRetry={() => history.refetch()} />
        ) : (
          <Table aria-label="Status history" variant="compact">
            <Thead>
              <Tr>
                <Th>When</Th>
                <Th>From</Th>
                <Th>To</Th>
                <Th>Reason</Th>
              </Tr>
            </Thead>
            <Tbody>
              {history.data.map((h, i) => (
                <Tr key={`${h.at}-${i}`}>
                  <Td dataLabel="When">{formatDateTime(h.at)}</Td>
                  <Td dataLabel="From">{h.from_status ?? "—"}</Td>
                  <Td dataLabel="To">{h.to_status}</Td>
                  <Td dataLabel="Reason">{h.reason ?? "—"}</Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </ModalBody>
    </Modal>
  );
}
