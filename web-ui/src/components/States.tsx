// The views every page state has: loading, empty, and an error with the server's problem detail.
import type { ReactNode } from "react";
import {
  Alert,
  Bullseye,
  Button,
  EmptyState,
  EmptyStateActions,
  EmptyStateBody,
  EmptyStateFooter,
  Spinner,
} from "@patternfly/react-core";
import { CubesIcon, ExclamationCircleIcon } from "@patternfly/react-icons";
import { asProblem } from "../api/problem";

export function Loading({ what }: { what: string }) {
  return (
    <Bullseye style={{ minHeight: "8rem" }}>
      <Spinner size="xl" aria-label={`Loading ${what}`} />
    </Bullseye>
  );
}

export function Empty({
  title,
  children,
  action,
}: {
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <EmptyState titleText={title} headingLevel="h2" icon={CubesIcon}>
      {children && <EmptyStateBody>{children}</EmptyStateBody>}
      {action && (
        <EmptyStateFooter>
          <EmptyStateActions>{action}</EmptyStateActions>
        </EmptyStateFooter>
      )}
    </EmptyState>
  );
}

/** A failed load: what the server said, and a retry. */
export function ProblemView({
  error,
  what,
  onRetry,
}: {
  error: unknown;
  what: string;
  onRetry?: () => void;
}) {
  const problem = asProblem(error);
  return (
    <EmptyState
      titleText={`Could not load ${what}`}
      headingLevel="h2"
      icon={ExclamationCircleIcon}
      status="danger"
    >
      <EmptyStateBody>
        <span role="alert">{problem.detail}</span>
        {problem.status > 0 && (
          <>
            {" "}
            <small>
              ({problem.title}, HTTP {problem.status})
            </small>
          </>
        )}
      </EmptyStateBody>
      {onRetry && (
        <EmptyStateFooter>
          <EmptyStateActions>
            <Button variant="primary" onClick={onRetry}>
              Try again
            </Button>
          </EmptyStateActions>
        </EmptyStateFooter>
      )}
    </EmptyState>
  );
}

/** An inline alert for a failed action, with the server's detail and its field errors. */
export function ProblemAlert({ error, title }: { error: unknown; title: string }) {
  if (!error) return null;
  const problem = asProblem(error);
  return (
    <Alert variant="danger" isInline title={title} role="alert">
      <p>{problem.detail}</p>
      {problem.errors.length > 1 && (
        <ul>
          {problem.errors.map((e) => (
            <li key={`${e.field}:${e.message}`}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
    </Alert>
  );
}
