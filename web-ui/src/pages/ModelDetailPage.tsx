// One model: description, prices, context window, the default quota, and subscribe / request access.
import { Link, useParams } from "react-router";
import {
  Breadcrumb,
  BreadcrumbItem,
  Content,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Label,
  LabelGroup,
  PageSection,
  Title,
} from "@patternfly/react-core";
import { useModel, useSubscriptions } from "../api/queries";
import { Loading, ProblemView } from "../components/States";
import { SubscribeButton, SubscriptionLabel } from "../components/SubscribeButton";
import { formatDateTime, formatInteger, formatLimits, formatPricePerMillion } from "../format";

export function ModelDetailPage() {
  const params = useParams();
  const id = params["*"] ?? "";
  const model = useModel(id);
  const subscriptions = useSubscriptions();
  const subscription = subscriptions.data?.find((s) => s.model_id === id);

  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem render={() => <Link to="/models">Model catalog</Link>} />
          <BreadcrumbItem isActive>{model.data?.display_name ?? id}</BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageSection>
        {model.isPending ? (
          <Loading what="the model" />
        ) : model.isError ? (
          <ProblemView error={model.error} what={`the model ${id}`} onRetry={() => model.refetch()} />
        ) : (
          <>
            <Title headingLevel="h1">
              {model.data.display_name}{" "}
              {model.data.restricted && <Label color="orange">restricted: needs approval</Label>}
            </Title>
            <Content component="p">{model.data.description || "No description."}</Content>
            <DescriptionList isHorizontal aria-label="Model details" style={{ margin: "1.5rem 0" }}>
              <DescriptionListGroup>
                <DescriptionListTerm>Model name for requests</DescriptionListTerm>
                <DescriptionListDescription>
                  <code>{model.data.id}</code>
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Provider</DescriptionListTerm>
                <DescriptionListDescription>{model.data.provider ?? "—"}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Capabilities</DescriptionListTerm>
                <DescriptionListDescription>
                  <LabelGroup>
                    {model.data.capabilities.map((c) => (
                      <Label key={c}>{c}</Label>
                    ))}
                  </LabelGroup>
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Context window</DescriptionListTerm>
                <DescriptionListDescription>
                  {model.data.context_window ? `${formatInteger(model.data.context_window)} tokens` : "—"}
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Input price</DescriptionListTerm>
                <DescriptionListDescription>
                  {formatPricePerMillion(model.data.input_price_per_token)}
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Output price</DescriptionListTerm>
                <DescriptionListDescription>
                  {formatPricePerMillion(model.data.output_price_per_token)}
                </DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Quota of a new subscription</DescriptionListTerm>
                <DescriptionListDescription>{formatLimits(model.data.default_quota)}</DescriptionListDescription>
              </DescriptionListGroup>
              <DescriptionListGroup>
                <DescriptionListTerm>Availability</DescriptionListTerm>
                <DescriptionListDescription>
                  {model.data.availability}
                  {model.data.last_synced_at && <> (synced {formatDateTime(model.data.last_synced_at)})</>}
                </DescriptionListDescription>
              </DescriptionListGroup>
              {subscription && (
                <DescriptionListGroup>
                  <DescriptionListTerm>Your subscription</DescriptionListTerm>
                  <DescriptionListDescription>
                    <SubscriptionLabel subscription={subscription} />
                    {subscription.status_reason && <> {subscription.status_reason}</>}
                  </DescriptionListDescription>
                </DescriptionListGroup>
              )}
            </DescriptionList>
            <SubscribeButton model={model.data} subscription={subscription} />
          </>
        )}
      </PageSection>
    </>
  );
}
