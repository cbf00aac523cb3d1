// The reconciler's recent passes for administrators and auditors (on the Jobs page): the last one at a glance,
// with a clear failure, and a table of the ones before it. Times are in the user's zone.
import {
  Alert,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Label,
  LabelGroup,
  Title,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { useReconcileRuns, type ReconcileRun } from "../../api/admin";
import { Empty, Loading, ProblemView } from "../../components/States";
import { formatDateTime, formatElapsed, formatInteger } from "../../format";

const TRIGGERS: Record<string, string> = {
  background: "background (periodic)",
  command: "keyport reconcile",
};

const triggerLabel = (trigger: string) => TRIGGERS[trigger] ?? trigger;

/** The findings of a pass, kinds with none left out (as the server sends them). */
function findingsOf(run: ReconcileRun): [string, number][] {
  return Object.entries(run.findings ?? {}).filter((entry): entry is [string, number] => (entry[1] ?? 0) > 0);
}

const totalFindings = (run: ReconcileRun) => findingsOf(run).reduce((sum, [, n]) => sum + n, 0);

function Findings({ run }: { run: ReconcileRun }) {
  const findings = findingsOf(run);
  if (findings.length === 0) return <>none</>;
  return (
    <LabelGroup numLabels={10} aria-label="Findings by kind">
      {findings.map(([kind, count]) => (
        <Label key={kind} color="orange" isCompact>
          {kind}: {formatInteger(count)}
        </Label>
      ))}
    </LabelGroup>
  );
}

/** One sentence for the last pass: failed, clean, or what it found and fixed. */
function LastPassAlert({ run }: { run: ReconcileRun }) {
  if (run.error) {
    return (
      <Alert variant="danger" isInline title="The last reconcile pass failed" role="alert">
        <p>{run.error}</p>
        <p>
          <small>
            It stopped {formatDateTime(run.finished_at)}; its counts below are what it saw before failing.
          </small>
        </p>
      </Alert>
    );
  }
  const found = totalFindings(run);
  if (found === 0) {
    return <Alert variant="success" isInline isPlain title="The last pass found keyport and LiteLLM in agreement." />;
  }
  const title = run.dry_run
    ? `The last pass found ${formatInteger(found)} disagreement${found === 1 ? "" : "s"} and changed nothing (dry run).`
    : `The last pass found ${formatInteger(found)} disagreement${found === 1 ? "" : "s"} and fixed ${formatInteger(run.fixed)}.`;
  const allFixed = !run.dry_run && run.fixed >= found;
  return <Alert variant={allFixed ? "info" : "warning"} isInline isPlain title={title} />;
}

function LastPass({ run }: { run: ReconcileRun }) {
  return (
    <>
      <LastPassAlert run={run} />
      <DescriptionList isHorizontal isCompact aria-label="Last reconcile pass" style={{ marginTop: "1rem" }}>
        <DescriptionListGroup>
          <DescriptionListTerm>Finished</DescriptionListTerm>
          <DescriptionListDescription>{formatDateTime(run.finished_at)}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Took</DescriptionListTerm>
          <DescriptionListDescription>{formatElapsed(run.started_at, run.finished_at)}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Trigger</DescriptionListTerm>
          <DescriptionListDescription>{triggerLabel(run.trigger)}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Dry run</DescriptionListTerm>
          <DescriptionListDescription>{run.dry_run ? "yes: nothing changed" : "no"}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Keys in LiteLLM</DescriptionListTerm>
          <DescriptionListDescription>{formatInteger(run.litellm_keys)}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Keys in keyport</DescriptionListTerm>
          <DescriptionListDescription>{formatInteger(run.keyport_rows)}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Calls to LiteLLM</DescriptionListTerm>
          <DescriptionListDescription>{formatInteger(run.litellm_calls)}</DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Findings</DescriptionListTerm>
          <DescriptionListDescription>
            <Findings run={run} />
          </DescriptionListDescription>
        </DescriptionListGroup>
        <DescriptionListGroup>
          <DescriptionListTerm>Fixed</DescriptionListTerm>
          <DescriptionListDescription>{formatInteger(run.fixed)}</DescriptionListDescription>
        </DescriptionListGroup>
      </DescriptionList>
    </>
  );
}

function RecentPasses({ runs }: { runs: ReconcileRun[] }) {
  return (
    <Table aria-label="Recent reconcile passes" variant="compact">
      <Thead>
        <Tr>
          <Th>Started</Th>
          <Th>Took</Th>
          <Th>Trigger</Th>
          <Th>Dry run</Th>
          <Th>Keys in LiteLLM</Th>
          <Th>Keys in keyport</Th>
          <Th>Findings</Th>
          <Th>Fixed</Th>
          <Th>Outcome</Th>
        </Tr>
      </Thead>
      <Tbody>
        {runs.map((run) => (
          <Tr key={run.id}>
            <Td dataLabel="Started">{formatDateTime(run.started_at)}</Td>
            <Td dataLabel="Took">{formatElapsed(run.started_at, run.finished_at)}</Td>
            <Td dataLabel="Trigger">{triggerLabel(run.trigger)}</Td>
            <Td dataLabel="Dry run">{run.dry_run ? "yes" : "no"}</Td>
            <Td dataLabel="Keys in LiteLLM">{formatInteger(run.litellm_keys)}</Td>
            <Td dataLabel="Keys in keyport">{formatInteger(run.keyport_rows)}</Td>
            <Td dataLabel="Findings">
              <Findings run={run} />
            </Td>
            <Td dataLabel="Fixed">{formatInteger(run.fixed)}</Td>
            <Td dataLabel="Outcome">
              {run.error ? (
                <>
                  <Label color="red" isCompact>
                    failed
                  </Label>{" "}
                  {run.error}
                </>
              ) : (
                <Label color="green" isCompact>
                  completed
                </Label>
              )}
            </Td>
          </Tr>
        ))}
      </Tbody>
    </Table>
  );
}

export function ReconcilerSection() {
  const runs = useReconcileRuns();
  return (
    <section aria-labelledby="reconciler-title">
      <Title headingLevel="h2" id="reconciler-title">
        Reconciler
      </Title>
      <Content component="p">
        One replica at a time compares keyport's keys with LiteLLM's, when keyport starts and then periodically
        (every 10 minutes by default), and fixes what disagrees; <code>keyport reconcile</code> does the same by
        hand (with <code>--dry-run</code>, it only reports).
      </Content>
      {runs.isPending ? (
        <Loading what="the reconciler's passes" />
      ) : runs.isError ? (
        <ProblemView error={runs.error} what="the reconciler's passes" onRetry={() => runs.refetch()} />
      ) : runs.data.runs.length === 0 || !runs.data.runs[0] ? (
        <Empty title="No pass yet">
          The reconciler has not recorded a pass. Background passes start with keyport unless{" "}
          <code>KEYPORT_RECONCILE_INTERVAL_SECS</code> is 0; <code>keyport reconcile</code> runs one by hand.
        </Empty>
      ) : (
        <>
          <Title headingLevel="h3" style={{ marginTop: "1rem" }}>
            Last pass
          </Title>
          <LastPass run={runs.data.runs[0]} />
          <Title headingLevel="h3" style={{ marginTop: "1.5rem" }}>
            Recent passes
          </Title>
          <RecentPasses runs={runs.data.runs} />
        </>
      )}
    </section>
  );
}
