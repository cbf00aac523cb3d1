// The approval queue: pending subscriptions (requests for restricted models). Admins select several and
// approve them, or reject them with a reason the users see; the answer says what happened to each one.
import { useMemo, useState } from "react";
import {
  Alert,
  AlertActionCloseButton,
  Button,
  Checkbox,
  PageSection,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { allItems, useAdminSubscriptions, useDecideSubscriptions, type AdminSubscription, type DecisionResult } from "../../api/admin";
import { MAX_REASON, ReasonDialog } from "../../components/ReasonDialog";
import { Empty, Loading, ProblemAlert, ProblemView } from "../../components/States";
import { formatDateTime, formatLimits } from "../../format";
import { LoadMore, PageHeader, useCanChange } from "./shared";

const MAX_BATCH = 100;

export function ApprovalsPage() {
  const canChange = useCanChange();
  const [model, setModel] = useState("");
  const pending = useAdminSubscriptions({ status: "pending", model_id: model.trim() }, { poll: true });
  const decide = useDecideSubscriptions();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [rejecting, setRejecting] = useState(false);
  const [outcome, setOutcome] = useState<{ verb: string; result: DecisionResult; names: Map<string, string> } | null>(
    null,
  );

  const items = useMemo(() => allItems(pending.data?.pages), [pending.data]);
  const names = useMemo(
    () => new Map(items.map((s) => [s.id, `${s.owner_username} → ${s.model_id}`] as const)),
    [items],
  );
  // Only what is still listed can be decided.
  const chosen = items.filter((s) => selected.has(s.id)).map((s) => s.id);
  const allChosen = items.length > 0 && chosen.length === items.length;

  function toggle(id: string, on: boolean) {
    setSelected((prev) => {
      const next = new Set(prev);
      if (on) next.add(id);
      else next.delete(id);
      return next;
    });
  }

  function run(reject?: { reason: string }, done?: () => void) {
    const ids = chosen.slice(0, MAX_BATCH);
    decide.mutate(
      { ids, reject },
      {
        onSuccess: (result) => {
          setOutcome({ verb: reject ? "Rejected" : "Approved", result, names });
          setSelected(new Set());
          done?.();
        },
      },
    );
  }

  return (
    <>
      <PageHeader title="Approvals">
        Requests for restricted models wait here. Approving makes the subscription active at once; a rejection
        tells the user why, and they may ask again.
      </PageHeader>
      <PageSection>
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <TextInput
                aria-label="Filter by model"
                placeholder="Model id"
                value={model}
                onChange={(_e, v) => setModel(v)}
                type="search"
              />
            </ToolbarItem>
            {canChange && (
              <>
                <ToolbarItem>
                  <Button
                    variant="primary"
                    isDisabled={chosen.length === 0 || decide.isPending}
                    isLoading={decide.isPending && !rejecting}
                    onClick={() => {
                      setOutcome(null);
                      run();
                    }}
                  >
                    Approve selected ({chosen.length})
                  </Button>
                </ToolbarItem>
                <ToolbarItem>
                  <Button
                    variant="secondary"
                    isDanger
                    isDisabled={chosen.length === 0 || decide.isPending}
                    onClick={() => {
                      setOutcome(null);
                      decide.reset();
                      setRejecting(true);
                    }}
                  >
                    Reject selected…
                  </Button>
                </ToolbarItem>
              </>
            )}
          </ToolbarContent>
        </Toolbar>
        {chosen.length > MAX_BATCH && (
          <Alert variant="warning" isInline title={`At most ${MAX_BATCH} at a time: the first ${MAX_BATCH} are sent.`} />
        )}
        {!rejecting && <ProblemAlert error={decide.error} title="The decision was not sent" />}
        {outcome && <Outcome {...outcome} onClose={() => setOutcome(null)} />}
        {pending.isPending ? (
          <Loading what="the approval queue" />
        ) : pending.isError ? (
          <ProblemView error={pending.error} what="the approval queue" onRetry={() => pending.refetch()} />
        ) : items.length === 0 ? (
          <Empty title="Nothing waits for approval">
            Requests for restricted models show up here{model.trim() ? " (for this model)" : ""}.
          </Empty>
        ) : (
          <>
            <Table aria-label="Pending subscriptions" variant="compact">
              <Thead>
                <Tr>
                  {canChange && (
                    <Th className="pf-v6-c-table__check" aria-label="Selection">
                      <Checkbox
                        id="select-all"
                        aria-label="Select all"
                        isChecked={allChosen ? true : chosen.length > 0 ? null : false}
                        onChange={(_e, on) => setSelected(on ? new Set(items.map((s) => s.id)) : new Set())}
                      />
                    </Th>
                  )}
                  <Th>User</Th>
                  <Th>Model</Th>
                  <Th>Quota</Th>
                  <Th>Requested</Th>
                  <Th>Last decision</Th>
                </Tr>
              </Thead>
              <Tbody>
                {items.map((s, rowIndex) => (
                  <Row key={s.id} subscription={s} rowIndex={rowIndex} canChange={canChange} selected={selected.has(s.id)} onToggle={toggle} />
                ))}
              </Tbody>
            </Table>
            <LoadMore query={pending} />
          </>
        )}
      </PageSection>
      {rejecting && (
        <RejectModal
          count={Math.min(chosen.length, MAX_BATCH)}
          busy={decide.isPending}
          error={decide.error}
          onClose={() => setRejecting(false)}
          onReject={(reason) => run({ reason }, () => setRejecting(false))}
        />
      )}
    </>
  );
}

function Row({
  subscription: s,
  rowIndex,
  canChange,
  selected,
  onToggle,
}: {
  subscription: AdminSubscription;
  rowIndex: number;
  canChange: boolean;
  selected: boolean;
  onToggle: (id: string, on: boolean) => void;
}) {
  return (
    <Tr data-testid={`pending-${s.owner_username}-${s.model_id}`}>
      {canChange && (
        <Td className="pf-v6-c-table__check">
          <Checkbox
            id={`select-${rowIndex}`}
            aria-label={`Select ${s.owner_username}'s request for ${s.model_id}`}
            isChecked={selected}
            onChange={(_e, on) => onToggle(s.id, on)}
          />
        </Td>
      )}
      <Td dataLabel="User">{s.owner_username}</Td>
      <Td dataLabel="Model">{s.model_id}</Td>
      <Td dataLabel="Quota">{formatLimits(s.quota)}</Td>
      <Td dataLabel="Requested">{formatDateTime(s.updated_at)}</Td>
      <Td dataLabel="Last decision">{s.status_reason ?? "—"}</Td>
    </Tr>
  );
}

function Outcome({
  verb,
  result,
  names,
  onClose,
}: {
  verb: string;
  result: DecisionResult;
  names: Map<string, string>;
  onClose: () => void;
}) {
  const unchanged = result.results.filter((r) => r.outcome !== "approved" && r.outcome !== "rejected");
  return (
    <Alert
      variant={unchanged.length === 0 ? "success" : result.succeeded > 0 ? "warning" : "danger"}
      isInline
      title={`${verb} ${result.succeeded}; ${result.unchanged} unchanged`}
      actionClose={<AlertActionCloseButton onClose={onClose} />}
      role="status"
    >
      {unchanged.length > 0 && (
        <ul>
          {unchanged.map((r) => (
            <li key={r.id}>
              {names.get(r.id) ?? r.id}: {r.detail ?? r.outcome}
              {r.outcome === "failed" ? " (try it again)" : ""}
            </li>
          ))}
        </ul>
      )}
    </Alert>
  );
}

function RejectModal({
  count,
  busy,
  error,
  onClose,
  onReject,
}: {
  count: number;
  busy: boolean;
  error: unknown;
  onClose: () => void;
  onReject: (reason: string) => void;
}) {
  return (
    <ReasonDialog
      id="reject"
      title={`Reject ${count} request${count === 1 ? "" : "s"}`}
      confirm="Reject"
      help={`Shown to the users; 1 to ${MAX_REASON} characters.`}
      missing="Give a reason: the users see it."
      busy={busy}
      error={error}
      problemTitle="The rejection was not sent"
      problemWithFieldError
      plainTitle
      onClose={onClose}
      onSubmit={onReject}
    />
  );
}
