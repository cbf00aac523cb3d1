// The job queue (outbox) for administrators and auditors: counts, and the jobs in one state; then the
// reconciler's recent passes.
import { useState } from "react";
import { Link } from "react-router";
import {
  Card,
  CardBody,
  CardTitle,
  Content,
  FormSelect,
  FormSelectOption,
  Gallery,
  PageSection,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import { useJobs } from "../../api/queries";
import type { JobStatus } from "../../api/admin";
import { apiEnums } from "../../api/enums";
import { Empty, Loading, ProblemView } from "../../components/States";
import { formatDateTime } from "../../format";
import { ReconcilerSection } from "./Reconciler";

export function JobsPage() {
  const [status, setStatus] = useState<JobStatus>("dead");
  const jobs = useJobs(status);
  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Jobs</Title>
        <Content component="p">
          Changes waiting to reach LiteLLM. Workers retry them with backoff; a dead job gave up and needs a look.
        </Content>
      </PageSection>
      <PageSection>
        {jobs.isPending ? (
          <Loading what="the job queue" />
        ) : jobs.isError ? (
          <ProblemView error={jobs.error} what="the job queue" onRetry={() => jobs.refetch()} />
        ) : (
          <>
            <Gallery hasGutter minWidths={{ default: "12rem" }}>
              <Card isCompact>
                <CardTitle>Pending</CardTitle>
                <CardBody>
                  {jobs.data.pending}
                  {jobs.data.oldest_pending_at && <small> (oldest due {formatDateTime(jobs.data.oldest_pending_at)})</small>}
                </CardBody>
              </Card>
              <Card isCompact>
                <CardTitle>Running</CardTitle>
                <CardBody>{jobs.data.running}</CardBody>
              </Card>
              <Card isCompact>
                <CardTitle>Dead</CardTitle>
                <CardBody>{jobs.data.dead}</CardBody>
              </Card>
            </Gallery>
            <Toolbar>
              <ToolbarContent>
                <ToolbarItem>
                  <FormSelect aria-label="Job state" value={status} onChange={(_e, v) => setStatus(v as JobStatus)}>
                    {apiEnums.JobDto.status.map((s) => (
                      <FormSelectOption key={s} value={s} label={s} />
                    ))}
                  </FormSelect>
                </ToolbarItem>
              </ToolbarContent>
            </Toolbar>
            {jobs.data.items.length === 0 ? (
              <Empty title={`No ${status} jobs`} />
            ) : (
              <Table aria-label="Jobs" variant="compact">
                <Thead>
                  <Tr>
                    <Th>Job</Th>
                    <Th>Kind</Th>
                    <Th>About</Th>
                    <Th>Attempts</Th>
                    <Th>Due</Th>
                    <Th>Last error</Th>
                  </Tr>
                </Thead>
                <Tbody>
                  {jobs.data.items.map((j) => (
                    <Tr key={j.id}>
                      <Td dataLabel="Job">{j.id}</Td>
                      <Td dataLabel="Kind">{j.kind}</Td>
                      <Td dataLabel="About">
                        {j.api_key_id ? (
                          <>
                            key <code>{j.api_key_id}</code>
                          </>
                        ) : j.user_id ? (
                          <Link to={`/admin/users/${j.user_id}`}>
                            user <code>{j.user_id}</code>
                          </Link>
                        ) : (
                          "—"
                        )}
                      </Td>
                      <Td dataLabel="Attempts">{j.attempts}</Td>
                      <Td dataLabel="Due">{formatDateTime(j.run_at)}</Td>
                      <Td dataLabel="Last error">{j.last_error ?? "—"}</Td>
                    </Tr>
                  ))}
                </Tbody>
              </Table>
            )}
          </>
        )}
      </PageSection>
      <PageSection>
        <ReconcilerSection />
      </PageSection>
    </>
  );
}
