// The audit log for administrators and auditors: every change keyport recorded, newest first, filtered by
// actor, action (exact or a prefix ending in *), target, request and time; each event opens to its before
// and after. Reading it records nothing.
import { Fragment, useState, type FormEvent } from "react";
import {
  ActionGroup,
  Button,
  Form,
  Grid,
  GridItem,
  Label,
  PageSection,
} from "@patternfly/react-core";
import { ExpandableRowContent, Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { allItems, useAudit, type AuditEvent, type AuditFilters } from "../../api/admin";
import { ApiProblem } from "../../api/problem";
import { TextField } from "../../components/Fields";
import { Empty, Loading, ProblemView } from "../../components/States";
import { formatDateTime } from "../../format";
import { LoadMore, PageHeader } from "./shared";

type Field = keyof AuditFilters;
const TEXT_FIELDS: [Field, string, string][] = [
  ["action", "Action", "Like api_key.revoke, or a prefix: api_key.*"],
  ["actor", "Actor (user id)", "The id of the user who acted."],
  ["target_type", "Target type", "api_key, subscription, user, model, settings…"],
  ["target_id", "Target id", "The id of the changed thing."],
  ["request_id", "Request id", "keyport's id of one request (the x-request-id it answered with)."],
];
const TIME_FIELDS: [Field, string, string][] = [
  ["since", "From", "Events at or after this time (your time zone)."],
  ["until", "Until", "Events before this time."],
];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ACTION = /^[A-Za-z0-9_.-]+\*?$/;

type Inputs = Record<Field, string>;
const EMPTY: Inputs = { action: "", actor: "", target_type: "", target_id: "", request_id: "", since: "", until: "" };

/** A `datetime-local` value as an RFC 3339 instant (the browser's time zone), or null when it is not one. */
function toInstant(local: string): string | null {
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The filters to send, or the field errors that stop them. */
export function auditFilters(input: Inputs): { filters: AuditFilters } | { errors: Partial<Record<Field, string>> } {
  const errors: Partial<Record<Field, string>> = {};
  const filters: AuditFilters = {};
  for (const [field] of TEXT_FIELDS) {
    const v = input[field].trim();
    if (v) filters[field] = v;
  }
  if (filters.actor && !UUID.test(filters.actor)) errors.actor = "A user id (a UUID), as on the user's page.";
  if (filters.action && !ACTION.test(filters.action))
    errors.action = "Letters, digits, dots and underscores, with an optional * at the end.";
  for (const [field] of TIME_FIELDS) {
    const v = input[field].trim();
    if (!v) continue;
    const instant = toInstant(v);
    if (instant) filters[field] = instant;
    else errors[field] = "A date and time.";
  }
  if (filters.since && filters.until && filters.since >= filters.until) errors.until = "Must be after From.";
  return Object.keys(errors).length ? { errors } : { filters };
}

export function AuditPage() {
  const [input, setInput] = useState<Inputs>(EMPTY);
  const [filters, setFilters] = useState<AuditFilters>({});
  const [local, setLocal] = useState<Partial<Record<Field, string>>>({});
  const audit = useAudit(filters);
  const items = allItems(audit.data?.pages);
  // A filter the server refused (422 naming the parameter) is shown on its field.
  const server: Partial<Record<Field, string>> = {};
  if (audit.error instanceof ApiProblem)
    for (const e of audit.error.errors) if (e.field in EMPTY) server[e.field as Field] = e.message;
  const errors = { ...server, ...local };
  const serverNamedField = Object.keys(server).length > 0;

  function submit(event: FormEvent) {
    event.preventDefault();
    const answer = auditFilters(input);
    if ("errors" in answer) return setLocal(answer.errors);
    setLocal({});
    setFilters(answer.filters);
  }

  return (
    <>
      <PageHeader title="Audit log">
        Every change keyport recorded, with who made it and what it was before and after. A sealed event is in the
        tamper-evident hash chain.
      </PageHeader>
      <PageSection>
        <Form onSubmit={submit} noValidate aria-label="Audit filters">
          <Grid hasGutter md={4} xl={3}>
            {[...TEXT_FIELDS, ...TIME_FIELDS].map(([field, label, hint]) => {
              const error = errors[field];
              const id = `audit-${field}`;
              return (
                <GridItem key={field}>
                  <TextField
                    id={id}
                    label={label}
                    error={error}
                    hint={hint}
                    type={field === "since" || field === "until" ? "datetime-local" : "text"}
                    value={input[field]}
                    onChange={(_e, v) => setInput((prev) => ({ ...prev, [field]: v }))}
                  />
                </GridItem>
              );
            })}
          </Grid>
          <ActionGroup>
            <Button type="submit" variant="primary">
              Apply filters
            </Button>
            <Button
              variant="link"
              onClick={() => {
                setInput(EMPTY);
                setLocal({});
                setFilters({});
              }}
            >
              Clear
            </Button>
          </ActionGroup>
        </Form>
      </PageSection>
      <PageSection>
        {audit.isPending ? (
          <Loading what="the audit log" />
        ) : audit.isError ? (
          <ProblemView
            error={audit.error}
            what={serverNamedField ? "the audit log with these filters" : "the audit log"}
            onRetry={() => audit.refetch()}
          />
        ) : items.length === 0 ? (
          <Empty title="No events">{Object.keys(filters).length ? "Nothing matches these filters." : "Nothing recorded yet."}</Empty>
        ) : (
          <>
            <Table aria-label="Audit events" variant="compact">
              <Thead>
                <Tr>
                  <Th screenReaderText="Details" />
                  <Th>When</Th>
                  <Th>Actor</Th>
                  <Th>Action</Th>
                  <Th>Target</Th>
                  <Th>Request</Th>
                  <Th>Chain</Th>
                </Tr>
              </Thead>
              {items.map((e, rowIndex) => (
                <EventRows key={e.id} event={e} rowIndex={rowIndex} />
              ))}
            </Table>
            <LoadMore query={audit} />
          </>
        )}
      </PageSection>
    </>
  );
}

function EventRows({ event: e, rowIndex }: { event: AuditEvent; rowIndex: number }) {
  const [open, setOpen] = useState(false);
  const hasDetail = e.before != null || e.after != null || !!e.client_addr || !!e.client_request_id;
  return (
    <Tbody isExpanded={open}>
      <Tr>
        <Td
          expand={
            hasDetail
              ? { rowIndex, isExpanded: open, onToggle: () => setOpen((o) => !o), expandId: `audit-${e.id}` }
              : undefined
          }
          aria-label={hasDetail ? undefined : "No details"}
        />
        <Td dataLabel="When">{formatDateTime(e.at)}</Td>
        <Td dataLabel="Actor">{e.actor ? e.actor_username ?? <code>{e.actor}</code> : <em>keyport</em>}</Td>
        <Td dataLabel="Action">
          <code>{e.action}</code>
        </Td>
        <Td dataLabel="Target">
          {e.target_type} <code>{e.target_id}</code>
        </Td>
        <Td dataLabel="Request">{e.request_id ? <code>{e.request_id.slice(0, 8)}</code> : "—"}</Td>
        <Td dataLabel="Chain">
          {e.sealed ? <Label isCompact color="green">#{e.seq}</Label> : <Label isCompact>not sealed yet</Label>}
        </Td>
      </Tr>
      {hasDetail && (
        <Tr isExpanded={open}>
          <Td colSpan={7}>
            <ExpandableRowContent>
              <Grid hasGutter md={6}>
                {(["before", "after"] as const).map((side) => (
                  <Fragment key={side}>
                    <GridItem>
                      <strong>{side === "before" ? "Before" : "After"}</strong>
                      <pre className="kp-pre">{e[side] == null ? "—" : JSON.stringify(e[side], null, 2)}</pre>
                    </GridItem>
                  </Fragment>
                ))}
              </Grid>
              {e.client_addr && <small>From {e.client_addr}</small>}
              {e.client_request_id && (
                <small>
                  {" "}
                  Client's request id <code>{e.client_request_id}</code>
                </small>
              )}
              {e.hash && (
                <small>
                  {" "}
                  Hash <code>{e.hash}</code>
                </small>
              )}
            </ExpandableRowContent>
          </Td>
        </Tr>
      )}
    </Tbody>
  );
}
