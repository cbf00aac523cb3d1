// The one time a key's secret is shown: copy it, or paste an example that already uses it. Closing the
// dialog drops the secret from memory; nothing can open it again.
import { useState } from "react";
import {
  Alert,
  Button,
  ClipboardCopy,
  CodeBlock,
  CodeBlockCode,
  Modal,
  ModalBody,
  ModalFooter,
  ModalHeader,
  Tab,
  Tabs,
  TabTitleText,
  Title,
} from "@patternfly/react-core";
import type { CreatedApiKey } from "../../api/client";

function baseUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

export function curlExample(created: CreatedApiKey): string {
  const model = created.key.models[0] ?? "MODEL";
  return [
    `curl ${baseUrl(created.litellm_base_url)}/v1/chat/completions \\`,
    `  -H "Authorization: Bearer ${created.secret}" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '{"model": "${model}", "messages": [{"role": "user", "content": "Hello!"}]}'`,
  ].join("\n");
}

export function pythonExample(created: CreatedApiKey): string {
  const model = created.key.models[0] ?? "MODEL";
  return [
    "from openai import OpenAI",
    "",
    "client = OpenAI(",
    `    api_key="${created.secret}",`,
    `    base_url="${baseUrl(created.litellm_base_url)}",`,
    ")",
    "response = client.chat.completions.create(",
    `    model="${model}",`,
    '    messages=[{"role": "user", "content": "Hello!"}],',
    ")",
    "print(response.choices[0].message.content)",
  ].join("\n");
}

export function SecretModal({
  created,
  title,
  onClose,
}: {
  created: CreatedApiKey;
  title: string;
  onClose: () => void;
}) {
  const [tab, setTab] = useState<string | number>("curl");
  return (
    <Modal isOpen variant="medium" onClose={onClose} aria-labelledby="secret-title">
      <ModalHeader title={title} labelId="secret-title" />
      <ModalBody>
        <Alert variant="warning" isInline title="Copy the key now: it is shown only this once">
          keyport keeps only a hash of it. If you lose it, rotate the key to get a new one.
        </Alert>
        <Title headingLevel="h3" size="md" style={{ marginTop: "1rem" }}>
          Key <code>{created.key.name}</code>
        </Title>
        <ClipboardCopy
          isReadOnly
          hoverTip="Copy the key"
          clickTip="Copied"
          copyAriaLabel="Copy the key"
          textAriaLabel="The new key"
          data-testid="secret"
        >
          {created.secret}
        </ClipboardCopy>
        <Title headingLevel="h3" size="md" style={{ marginTop: "1rem" }}>
          Use it with LiteLLM at <code>{created.litellm_base_url}</code>
        </Title>
        <Tabs activeKey={tab} onSelect={(_e, key) => setTab(key)} aria-label="Examples">
          <Tab eventKey="curl" title={<TabTitleText>curl</TabTitleText>}>
            <CodeBlock>
              <CodeBlockCode>{curlExample(created)}</CodeBlockCode>
            </CodeBlock>
          </Tab>
          <Tab eventKey="python" title={<TabTitleText>Python (OpenAI client)</TabTitleText>}>
            <CodeBlock>
              <CodeBlockCode>{pythonExample(created)}</CodeBlockCode>
            </CodeBlock>
          </Tab>
        </Tabs>
      </ModalBody>
      <ModalFooter>
        <Button variant="primary" onClick={onClose}>
          I have stored the key
        </Button>
      </ModalFooter>
    </Modal>
  );
}
