// Personal access tokens: for scripts and pipelines that call keyport's API (not LiteLLM).
import { useState, type FormEvent } from "react";
import {
  Alert,
  Button,
  ClipboardCopy,
  Content,
  Form,
  FormGroup,
  FormHelperText,
  HelperText,
  HelperTextItem,
  Label,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  PageSection,
  TextInput,
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
import { ConfirmModal } from "../components/ConfirmModal";
import { Empty, Loading, ProblemAlert, ProblemView } from "../components/States";
import { formatDate, formatDateTime } from "../format";
import { endOfDay, validateExpiry, validateName } from "./keys/CreateKeyModal";

function CreateTokenModal({ onClose, onCreated }: { onClose: () => void; onCreated: (t: CreatedAccessToken) => void }) {
  const create = useCreateAccessToken();
  const [name, setName] = useState("");
  const [expires, setExpires] = useState("");
  const [errors, setErrors] = useState<{ name?: string; expires?: string }>({});

  function submit(event: FormEvent) {
    event.preventDefault();
    const found = { name: validateName(name), expires: validateExpiry(expires) };
    setErrors(found);
    if (found.name || found.expires) return;
    create.mutate(
      { name: name.trim(), expires_at: expires ? endOfDay(expires) : null },
      {
        onSuccess: onCreated,
        onError: (e) => {
          const p = asProblem(e);
          setErrors({ name: p.fieldError("name"), expires: p.fieldError("expires_at") });
        },
      },
    );
  }

  return (
    <Modal isOpen variant="small" onClose={onClose} aria-labelledby="create-token-title">
      <ModalHeader title="Create an access token" labelId="create-token-title" />
      <ModalBody>
        <Form id="create-token-form" onSubmit={submit} noValidate>
          <FormGroup label="Name" isRequired fieldId="token-name">
            <TextInput
              id="token-name"
              isRequired
              value={name}
              onChange={(_e, v) => setName(v)}
              validated={errors.name ? "error" : "default"}
              aria-invalid={!!errors.name}
            />
            {errors.name && (
              <FormHelperText>
                <HelperText>
                  <HelperTextItem variant="error">{errors.name}</HelperTextItem>
                </HelperText>
              </FormHelperText>
            )}
          </FormGroup>
          <FormGroup label="Expires (end of the day, your time)" fieldId="token-expires">
            <TextInput
              id="token-expires"
              type="date"
              value={expires}
              onChange={(_e, v) => setExpires(v)}
              validated={errors.expires ? "error" : "default"}
              aria-invalid={!!errors.expires}
            />
            {errors.expires && (
              <FormHelperText>
                <HelperText>
                  <HelperTextItem variant="error">{errors.expires}</HelperTextItem>
                </HelperText>
              </FormHelperText>
            )}
          </FormGroup>
          <ProblemAlert error={create.error} title="The token was not created" />
        </Form>
      </ModalBody>
      <ModalFooter>
        <Button type="submit" form="create-token-form" isLoading={create.isPending} isDisabled={create.isPending}>
          Create token
        </Button>
        <Button variant="link" onClick={onClose}>
          Cancel
        </Button>
      </ModalFooter>
    </Modal>
  );
}

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
                    <code>{t.prefix}…</code> {t.revoked_at && <Label color="grey">revoked</Label>}
                  </Td>
                  <Td dataLabel="Last used">{t.last_used_at ? formatDateTime(t.last_used_at) : "never"}</Td>
                  <Td dataLabel="Expires">{t.expires_at ? formatDate(t.expires_at) : "never"}</Td>
                  <Td dataLabel="Created">{formatDateTime(t.created_at)}</Td>
                  <Td isActionCell>
                    {!t.revoked_at && (
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
          <ModalHeader title={`Token ${created.token.name}`} labelId="token-secret-title" />
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
