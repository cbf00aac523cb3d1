// What the administration pages share: who may change things (admins; auditors read), the read-only notice,
// "Load more" for keyset pages and the notice of what an action did. Their limits editors are src/limits,
// the dialog asking for a reason is src/components/ReasonDialog.tsx.
import type { ReactNode } from "react";
import { Alert, AlertActionCloseButton, Button, PageSection, Title, Content } from "@patternfly/react-core";
import { isAdmin } from "../../api/auth";
import { useMe } from "../../api/queries";

/** Whether the signed-in user may change things here (admins); auditors see the same pages read-only. */
export function useCanChange(): boolean {
  const me = useMe();
  return isAdmin(me.data);
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const canChange = useCanChange();
  return (
    <PageSection>
      <Title headingLevel="h1">{title}</Title>
      {children && <Content component="p">{children}</Content>}
      {!canChange && (
        <Alert variant="info" isInline isPlain title="Read-only: auditors see this page without its changes." />
      )}
    </PageSection>
  );
}

export function LoadMore({
  query,
}: {
  query: { hasNextPage: boolean; isFetchingNextPage: boolean; fetchNextPage: () => unknown };
}) {
  if (!query.hasNextPage) return null;
  return (
    <Button
      variant="secondary"
      onClick={() => query.fetchNextPage()}
      isLoading={query.isFetchingNextPage}
      isDisabled={query.isFetchingNextPage}
      style={{ marginTop: "1rem" }}
    >
      Load more
    </Button>
  );
}

/** What the last action did, above the table it changed, until closed; nothing while `message` is null. */
export function DoneNotice({ message, onClose }: { message: string | null; onClose: () => void }) {
  if (!message) return null;
  return (
    <Alert
      variant="success"
      isInline
      isPlain
      title={message}
      role="status"
      actionClose={<AlertActionCloseButton onClose={onClose} />}
      style={{ marginBottom: "1rem" }}
    />
  );
}
