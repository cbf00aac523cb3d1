// The model catalog: search, filter by provider and capability, subscribe or request access.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import {
  Content,
  FormSelect,
  FormSelectOption,
  Label,
  LabelGroup,
  PageSection,
  SearchInput,
  Title,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from "@patternfly/react-core";
import { Table, Tbody, Td, Th, Thead, Tr } from "@patternfly/react-table";
import type { Model, Subscription } from "../api/client";
import { useModels, useSubscriptions } from "../api/queries";
import { Empty, Loading, ProblemView } from "../components/States";
import { SubscribeButton } from "../components/SubscribeButton";
import { formatInteger, formatPricePerMillion } from "../format";

export function modelPath(id: string): string {
  return `/models/${id.split("/").map(encodeURIComponent).join("/")}`;
}

function matches(model: Model, search: string, provider: string, capability: string): boolean {
  const text = search.trim().toLowerCase();
  if (
    text &&
    ![model.id, model.display_name, model.description ?? "", model.provider ?? ""].some((s) =>
      s.toLowerCase().includes(text),
    )
  ) {
    return false;
  }
  if (provider && (model.provider ?? "") !== provider) return false;
  if (capability && !model.capabilities.includes(capability)) return false;
  return true;
}

export function CatalogPage() {
  const models = useModels();
  const subscriptions = useSubscriptions();
  const [search, setSearch] = useState("");
  const [provider, setProvider] = useState("");
  const [capability, setCapability] = useState("");

  const all = models.data ?? [];
  const providers = useMemo(
    () => [...new Set(all.map((m) => m.provider).filter((p): p is string => !!p))].sort(),
    [all],
  );
  const capabilities = useMemo(() => [...new Set(all.flatMap((m) => m.capabilities))].sort(), [all]);
  const byModel = useMemo(() => {
    const map = new Map<string, Subscription>();
    for (const s of subscriptions.data ?? []) map.set(s.model_id, s);
    return map;
  }, [subscriptions.data]);
  const shown = all.filter((m) => matches(m, search, provider, capability));

  return (
    <>
      <PageSection>
        <Title headingLevel="h1">Model catalog</Title>
        <Content component="p">
          Subscribe to a model to create API keys for it. Restricted models need an administrator's approval.
        </Content>
      </PageSection>
      <PageSection>
        {models.isPending ? (
          <Loading what="the model catalog" />
        ) : models.isError ? (
          <ProblemView error={models.error} what="the model catalog" onRetry={() => models.refetch()} />
        ) : all.length === 0 ? (
          <Empty title="No models yet">
            The catalog is empty: an administrator has not offered any model, or it has not been synced from
            LiteLLM yet.
          </Empty>
        ) : (
          <>
            <Toolbar>
              <ToolbarContent>
                <ToolbarItem>
                  <SearchInput
                    aria-label="Search models"
                    placeholder="Search by name or description"
                    value={search}
                    onChange={(_e, v) => setSearch(v)}
                    onClear={() => setSearch("")}
                  />
                </ToolbarItem>
                <ToolbarItem>
                  <FormSelect
                    aria-label="Provider"
                    value={provider}
                    onChange={(_e, v) => setProvider(v)}
                  >
                    <FormSelectOption value="" label="All providers" />
                    {providers.map((p) => (
                      <FormSelectOption key={p} value={p} label={p} />
                    ))}
                  </FormSelect>
                </ToolbarItem>
                <ToolbarItem>
                  <FormSelect
                    aria-label="Capability"
                    value={capability}
                    onChange={(_e, v) => setCapability(v)}
                  >
                    <FormSelectOption value="" label="All capabilities" />
                    {capabilities.map((c) => (
                      <FormSelectOption key={c} value={c} label={c} />
                    ))}
                  </FormSelect>
                </ToolbarItem>
                <ToolbarItem>
                  <span aria-live="polite">
                    {shown.length} of {all.length} models
                  </span>
                </ToolbarItem>
              </ToolbarContent>
            </Toolbar>
            {shown.length === 0 ? (
              <Empty title="No model matches">Change the search or the filters.</Empty>
            ) : (
              <Table aria-label="Models" variant="compact">
                <Thead>
                  <Tr>
                    <Th>Model</Th>
                    <Th>Provider</Th>
                    <Th>Capabilities</Th>
                    <Th>Context window</Th>
                    <Th>Input price</Th>
                    <Th>Output price</Th>
                    <Th screenReaderText="Subscription" />
                  </Tr>
                </Thead>
                <Tbody>
                  {shown.map((model) => (
                    <Tr key={model.id}>
                      <Td dataLabel="Model">
                        <Link to={modelPath(model.id)}>{model.display_name}</Link>{" "}
                        {model.restricted && <Label color="orange" isCompact>restricted</Label>}
                        <div>
                          <small>
                            <code>{model.id}</code>
                          </small>
                        </div>
                      </Td>
                      <Td dataLabel="Provider">{model.provider ?? "—"}</Td>
                      <Td dataLabel="Capabilities">
                        <LabelGroup>
                          {model.capabilities.map((c) => (
                            <Label key={c} isCompact>
                              {c}
                            </Label>
                          ))}
                        </LabelGroup>
                      </Td>
                      <Td dataLabel="Context window">
                        {model.context_window ? `${formatInteger(model.context_window)} tokens` : "—"}
                      </Td>
                      <Td dataLabel="Input price">{formatPricePerMillion(model.input_price_per_token)}</Td>
                      <Td dataLabel="Output price">{formatPricePerMillion(model.output_price_per_token)}</Td>
                      <Td dataLabel="Subscription">
                        <SubscribeButton model={model} subscription={byModel.get(model.id)} />
                      </Td>
                    </Tr>
                  ))}
                </Tbody>
              </Table>
            )}
          </>
        )}
      </PageSection>
    </>
  );
}
