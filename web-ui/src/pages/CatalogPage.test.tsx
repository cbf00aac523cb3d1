import { describe, expect, it } from "vitest";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { CatalogPage } from "./CatalogPage";
import { fakeApi, model, problem, renderPage, seriousViolations, subscription } from "../test/render";

const catalog = {
  items: [
    model(),
    model({ id: "anthropic/claude-3-haiku", display_name: "Claude 3 Haiku", provider: "anthropic", capabilities: ["chat"], restricted: true }),
    model({ id: "text-embedding-3-small", display_name: "Embeddings small", provider: "openai", capabilities: ["embeddings"] }),
  ],
};

describe("the model catalog", () => {
  it("searches and filters by provider and capability", async () => {
    fakeApi({ "GET /api/v1/models": { body: catalog }, "GET /api/v1/subscriptions": { body: { items: [] } } });
    const user = userEvent.setup();
    renderPage(<CatalogPage />);
    const table = await screen.findByRole("grid", { name: "Models" }).catch(() => screen.getByRole("table", { name: "Models" }));
    expect(within(table).getAllByRole("row")).toHaveLength(4);
    await user.selectOptions(screen.getByLabelText("Provider"), "openai");
    expect(screen.getByText("2 of 3 models")).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Capability"), "embeddings");
    expect(screen.getByText("1 of 3 models")).toBeInTheDocument();
    expect(screen.getByText("Embeddings small")).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Provider"), "");
    await user.selectOptions(screen.getByLabelText("Capability"), "");
    await user.type(screen.getByLabelText("Search models"), "haiku");
    expect(screen.getByText("1 of 3 models")).toBeInTheDocument();
    expect(screen.getByText("Claude 3 Haiku")).toBeInTheDocument();
    await user.clear(screen.getByLabelText("Search models"));
    await user.type(screen.getByLabelText("Search models"), "nothing like it");
    expect(screen.getByText("No model matches")).toBeInTheDocument();
  });

  it("shows prices per million tokens and the context window", async () => {
    fakeApi({ "GET /api/v1/models": { body: catalog }, "GET /api/v1/subscriptions": { body: { items: [] } } });
    renderPage(<CatalogPage />);
    expect((await screen.findAllByText("$0.150 / 1M tokens")).length).toBeGreaterThan(0);
    expect(screen.getAllByText("128,000 tokens").length).toBeGreaterThan(0);
    expect(await seriousViolations()).toEqual([]);
  });

  it("subscribes to an open model and requests access to a restricted one", async () => {
    const calls = fakeApi({
      "GET /api/v1/models": { body: catalog },
      "GET /api/v1/subscriptions": { body: { items: [subscription({ model_id: "text-embedding-3-small", status: "pending", status_reason: "waiting" })] } },
      "POST /api/v1/subscriptions": { status: 201, body: subscription() },
    });
    const user = userEvent.setup();
    renderPage(<CatalogPage />);
    await user.click(await screen.findByRole("button", { name: "Subscribe: GPT-4o mini" }));
    await waitFor(() => expect(calls.find((c) => c.method === "POST")?.body).toEqual({ model_id: "gpt-4o-mini" }));
    expect(screen.getByRole("button", { name: "Request access: Claude 3 Haiku" })).toBeInTheDocument();
    expect(screen.getByText("pending approval")).toBeInTheDocument();
  });

  it("shows the server's reason when subscribing fails", async () => {
    fakeApi({
      "GET /api/v1/models": { body: catalog },
      "GET /api/v1/subscriptions": { body: { items: [] } },
      "POST /api/v1/subscriptions": problem(409, "conflict", "you are already subscribed to gpt-4o-mini"),
    });
    const user = userEvent.setup();
    renderPage(<CatalogPage />);
    await user.click(await screen.findByRole("button", { name: "Subscribe: GPT-4o mini" }));
    expect(await screen.findByText("you are already subscribed to gpt-4o-mini")).toBeInTheDocument();
  });

  it("has a view for an empty catalog and for a failed load", async () => {
    fakeApi({ "GET /api/v1/models": { body: { items: [] } }, "GET /api/v1/subscriptions": { body: { items: [] } } });
    const first = renderPage(<CatalogPage />);
    expect(await screen.findByText("No models yet")).toBeInTheDocument();
    first.unmount();
    fakeApi({ "GET /api/v1/models": problem(401, "unauthenticated", "sign in first") });
    renderPage(<CatalogPage />);
    expect(await screen.findByText("sign in first")).toBeInTheDocument();
  });
});
