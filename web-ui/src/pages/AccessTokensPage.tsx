// Personal access tokens: for scripts and pipelines that call keyport's API (not LiteLLM).
import { useState, type FormEvent } from "react";
import {
  Alert,
  Button,
  Checkbox,
  ClipboardCopy,
  Content,
  Form,
  FormGroup,
  Label,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  PageSection,
  Title,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import {
  useAccessTokens,
  useCreateAccessToken,
  useRevokeAccessToken,
  type AccessToken,
  type CreatedAccessToken,
} from "../api/accessTokens";
import { asProblem } from "../api/problem";
import { useMe } from "../api/queries";
import { ConfirmModal } from "../components/ConfirmModal";
import { FieldError, TextField } from "../components/Fields";
import { FormFooter } from "../components/FormFooter";
import { Empty, Loading, ProblemAlert, ProblemView } from "../components/States";
import { formatDate, formatDateTime } from "../format";
import { validateName } from "./keys/CreateKeyModal";

const SCOPES: { scope: Scope; label: string }[] = [
  { scope: "read", label: "read: safe requests (GET)" },
  { scope: "write", label: "write: every request" },
];
/** Only administrators and auditors may give a token their role; without it a token acts as a plain member. */
const ADMIN_SCOPE: { scope: Scope; label: string } = { scope: "admin", label: "admin: use your administrator or auditor role" };

function CreateTokenModal({ onClose, onCreated }: { onClose: () => void; onCreated: (t: CreatedAccessToken) => void }) {
  const create = useCreateAccessToken();
  const me = useMe();
  const oversees = (me.data?.user.roles ?? []).some((r) => r === "admin" || r === "auditor");
  const offered = oversees ? [...SCOPES, ADMIN_SCOPE] : SCOPES;
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Scope[]>(["read"]);
  const [days, setDays] = useState("90");
  const [errors, setErrors] = useState<{ name?: string; scopes?: string; days?: string }>({});

  function submit(event: FormEvent) {
    event.preventDefault();
    const trimmed = days.trim();
    const found = {
      name: validateName(name),
      scopes: scopes.length === 0 ? "Choose at least one scope." : undefined,
      days:
        trimmed && !(/^\d+$/.test(trimmed) && Number(trimmed) >= 1 && Number(trimmed) <= 366)
          ? "A number of days from 1 to 366, or empty for no expiry."
          : undefined,
    };
    setErrors(found);
    if (found.name || found.scopes || found.days) return;
    create.mutate(
      { name: name.trim(), scopes, expires_in_days: trimmed ? Number(trimmed) : null },
      {
        onSuccess: onCreated,
        onError: (e) => {
          const p = asProblem(e);
          setErrors({
            name: p.fieldError("name"),
            scopes: p.fieldError("scopes"),
            days: p.fieldError("expires_in_days"),
          });
        },
      },
    );
  }

  /** A field's error, named by the field (`aria-describedby`) through its id. */
  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby="create-token-title">
      <ModalHeader title="Create an access token" labelId="create-token-title" />
      <ModalBody>
        <Form id="create-token-form" onSubmit={submit} noValidate>
          <TextField
            id="token-name"
            label="Name"
            isRequired
            error={errors.name}
            value={name}
            onChange={(_e, v) => setName(v)}
          />
          <FormGroup label="Scopes" isRequired role="group" fieldId="token-scopes" isStack>
            {offered.map(({ scope, label }) => (
              <Checkbox
                key={scope}
                id={`token-scope-${scope}`}
                label={label}
                isChecked={scopes.includes(scope)}
                onChange={(_e, on) => setScopes((s) => (on ? [...s, scope] : s.filter((x) => x !== scope)))}
              />
            ))}
            <FieldError id="token-scopes-help" error={errors.scopes} />
          </FormGroup>
          <TextField
            id="token-days"
            label="Expires after (days)"
            error={errors.days}
            inputMode="numeric"
            value={days}
            onChange={(_e, v) => setDays(v)}
          />
          <ProblemAlert error={create.error} title="The token was not created" />
        </Form>
      </ModalBody>
      <FormFooter form="create-token-form" busy={create.isPending} onCancel={onClose}>
        Create token
      </FormFooter>
    </Modal>
  );
}

type Scope = "read" | "write" | "admin";

export function AccessTokensPage() {
  const tokens = useAccessTokens();
  const revoke = useRevokeAccessToken();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedAccessToken | null>(null);
  const [revoking, setRevoking] = useState<AccessToken | null>(null);

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Personal access tokens</Title>
        <Content component="p">
          Tokens let scripts and pipelines call keyport's API as you (<code>Authorization: Bearer kp_pat_…</code>). They
          are not LiteLLM keys.
        </Content>
        <Button onClick={() => setCreating(true)}>Create access token</Button>
      </PageSection>
      <PageSection>
        {tokens.isPending ? (
          <Loading what="your access tokens" />
        ) : tokens.isError ? (
          <ProblemView error={tokens.error} what="your access tokens" onRetry={() => tokens.refetch()} />
        ) : tokens.data.length === 0 ? (
          <Empty title="No access tokens">Create one for a script or a pipeline that calls keyport's API.</Empty>
        ) : (
          <Table aria-label="Access tokens" variant="compact">
            <Thead>
              <Tr>
                <Th>Name</Th>
                <Th>Token</Th>
                <Th>Scopes</Th>
                <Th>Last used</Th>
                <Th>Expires</Th>
                <Th>Created</Th>
                <Th screenReaderText="Actions" />
              </Tr>
            </Thead>
            <Tbody>
              {tokens.data.map((t) => (
                <Tr key={t.id}>
                  <Td dataLabel="Name">{t.name}</Td>
                  <Td dataLabel="Token">
                    <code>{t.prefix}…</code>{" "}
                    {t.status !== "active" && <Label color="grey">{t.status}</Label>}
                  </Td>
                  <Td dataLabel="Scopes">{t.scopes.join(", ")}</Td>
                  <Td dataLabel="Last used">{t.last_used_at ? formatDateTime(t.last_used_at) : "never"}</Td>
                  <Td dataLabel="Expires">{t.expires_at ? formatDate(t.expires_at) : "never"}</Td>
                  <Td dataLabel="Created">{formatDateTime(t.created_at)}</Td>
                  <Td isActionCell>
                    {t.status === "active" && (
                      <Button
                        variant="secondary"
                        isDanger
                        size="sm"
                        aria-label={`Revoke token ${t.name}`}
                        onClick={() => {
                          revoke.reset();
                          setRevoking(t);
                        }}
                      >
                        Revoke
                      </Button>
                    )}
                  </Td>
                </Tr>
              ))}
            </Tbody>
          </Table>
        )}
      </PageSection>
      {creating && (
        <CreateTokenModal
          onClose={() => setCreating(false)}
          onCreated={(t) => {
            setCreating(false);
            setCreated(t);
          }}
        />
      )}
      {created && (
        <Modal isOpen variant="small" onClose={() => setCreated(null)} aria-labelledby="token-secret-title">
          <ModalHeader title={`Token ${created.name}`} labelId="token-secret-title" />
          <ModalBody>
            <Alert variant="warning" isInline title="Copy the token now: it is shown only this once" />
            <ClipboardCopy isReadOnly hoverTip="Copy the token" clickTip="Copied" textAriaLabel="The new token">
              {created.secret}
            </ClipboardCopy>
          </ModalBody>
          <ModalFooter>
            <Button onClick={() => setCreated(null)}>I have stored the token</Button>
          </ModalFooter>
        </Modal>
      )}
      {revoking && (
        <ConfirmModal
          title={`Revoke the token ${revoking.name}?`}
          confirm="Revoke"
          busy={revoke.isPending}
          error={revoke.error}
          onClose={() => setRevoking(null)}
          onConfirm={() => revoke.mutate(revoking.id, { onSuccess: () => setRevoking(null) })}
        >
          Scripts using <code>{revoking.prefix}…</code> can no longer call keyport.
        </ConfirmModal>
      )}
    </>
  );
}
