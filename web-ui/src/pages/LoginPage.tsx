// Sign in: single sign-on (a plain link: the server redirects to the identity provider), and the
// development login when the server has it enabled, under a banner saying so.
import { useState, type FormEvent } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { useLocation } from "react-router";
import {
  ActionGroup,
  Alert,
  Button,
  Card,
  CardBody,
  CardTitle,
  Content,
  Divider,
  Form,
  FormGroup,
  FormHelperText,
  FormSelect,
  FormSelectOption,
  HelperText,
  HelperTextItem,
  PageSection,
  TextInput,
  Title,
} from "@patternfly/react-core";
import type { PublicConfig } from "../api/client";
import { devLogin, ssoLoginUrl, type Role } from "../api/auth";
import { keys } from "../api/queries";
import { ApiProblem } from "../api/problem";
import { DevLoginBanner } from "../components/Layout";
import { ProblemAlert } from "../components/States";


const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

// Where single sign-on failed, the server sends the browser back to /login?error=<problem code>.
const SSO_ERRORS: Record<string, string> = {
  "login-state-invalid": "The sign-in took too long or was started in another tab. Try again.",
  "login-browser-mismatch":
    "The sign-in was started in another browser or tab, or this browser blocks cookies. Start it again here.",
  "login-rejected": "The identity provider did not confirm who you are. Try again.",
  "login-forbidden": "Your account may not use keyport (it is suspended, or the provider refused it).",
  "identity-provider-unavailable": "The identity provider did not answer. Try again in a moment.",
  "oidc-not-configured": "Single sign-on is not configured on this keyport.",
};

export function ssoErrorMessage(code: string): string {
  return SSO_ERRORS[code] ?? `Single sign-on failed (${code}).`;
}

export function LoginPage({ config }: { config: PublicConfig }) {
  const location = useLocation();
  const returnTo = location.pathname === "/login" ? "/" : `${location.pathname}${location.search}`;
  const ssoError = location.pathname === "/login" ? new URLSearchParams(location.search).get("error") : null;
  return (
    <>
      {config.dev_login && <DevLoginBanner />}
      <main id="main-content">
        <PageSection>
          <div style={{ maxWidth: "28rem", margin: "4rem auto" }}>
            <Card>
              <CardTitle>
                <Title headingLevel="h1">Sign in to keyport</Title>
              </CardTitle>
              <CardBody>
                {ssoError && (
                  <Alert variant="danger" isInline title="Could not sign in" role="alert" style={{ marginBottom: "1rem" }}>
                    {ssoErrorMessage(ssoError.slice(0, 64))}
                  </Alert>
                )}
                <Content component="p">
                  Browse the model catalog, subscribe to models and manage your API keys for LiteLLM.
                </Content>
                {config.oidc_enabled === true && (
                  <Button
                    component="a"
                    href={ssoLoginUrl(returnTo)}
                    variant="primary"
                    isBlock
                    style={{ marginTop: "1rem" }}
                  >
                    Sign in with single sign-on
                  </Button>
                )}
                {config.dev_login && (
                  <>
                    {config.oidc_enabled === true && <Divider style={{ margin: "1.5rem 0" }} />}
                    <DevLoginForm />
                  </>
                )}
                {!config.oidc_enabled && !config.dev_login && (
                  <Content component="p">No way to sign in is configured on this keyport.</Content>
                )}
              </CardBody>
            </Card>
          </div>
        </PageSection>
      </main>
    </>
  );
}

export function DevLoginForm() {
  const client = useQueryClient();
  const [username, setUsername] = useState("");
  const [role, setRole] = useState<Role>("user");
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    const name = username.trim();
    if (!USERNAME.test(name)) {
      setFieldError("Enter a username: 1 to 64 letters, digits, dots, dashes, underscores or @.");
      return;
    }
    setFieldError(null);
    setBusy(true);
    try {
      const me = await devLogin(name, role);
      client.setQueryData(keys.me, me);
    } catch (e) {
      const server = e instanceof ApiProblem ? e.fieldError("username") : undefined;
      if (server) setFieldError(server);
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Form onSubmit={submit} noValidate aria-label="Development login">
      <Title headingLevel="h2" size="md">
        Development login
      </Title>
      <FormGroup label="Username" isRequired fieldId="dev-username">
        <TextInput
          id="dev-username"
          name="username"
          isRequired
          value={username}
          onChange={(_e, v) => setUsername(v)}
          validated={fieldError ? "error" : "default"}
          aria-invalid={!!fieldError}
          aria-describedby={fieldError ? "dev-username-error" : undefined}
          autoComplete="username"
        />
        {fieldError && (
          <FormHelperText>
            <HelperText>
              <HelperTextItem variant="error" id="dev-username-error">
                {fieldError}
              </HelperTextItem>
            </HelperText>
          </FormHelperText>
        )}
      </FormGroup>
      <FormGroup label="Role" fieldId="dev-role">
        <FormSelect id="dev-role" value={role} onChange={(_e, v) => setRole(v as Role)}>
          <FormSelectOption value="user" label="User" />
          <FormSelectOption value="admin" label="Administrator" />
          <FormSelectOption value="auditor" label="Auditor (read-only oversight)" />
        </FormSelect>
      </FormGroup>
      <ProblemAlert error={error} title="Could not sign in" />
      <ActionGroup>
        <Button type="submit" variant="secondary" isLoading={busy} isDisabled={busy}>
          Sign in (development)
        </Button>
      </ActionGroup>
    </Form>
  );
}
