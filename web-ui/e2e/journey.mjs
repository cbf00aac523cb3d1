// The end-to-end journey of a user, in Debian's Chromium through playwright-core, against the keyport,
// PostgreSQL and LiteLLM double that scripts/e2e.sh started (KEYPORT_URL, LITELLM_URL):
// sign in (development login), subscribe to a model, create a key choosing the subscription, read it from
// the show-once dialog, call the double with it (200), revoke it in the UI, call again (401). Then the
// administration: an admin marks a model restricted on the models page, the user requests access, the admin
// approves it on the approvals page (bulk select), the subscription is active and a key for it works; the
// admin pages are shown (screenshots for the guide); an auditor sees them without any change control; the API
// reference at /api/docs renders its operations under the same Content-Security-Policy.
// Each step's screenshot goes to test-results/journey/ (and to E2E_DOCS_IMAGES when set, for the user
// guide); a failed step leaves test-results/failure-<step>.png. Pages are checked with axe-core.
import { mkdir, copyFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = (await import("node:fs")).readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const KEYPORT = process.env.KEYPORT_URL;
const LITELLM = process.env.LITELLM_URL;
const DOCS = process.env.E2E_DOCS_IMAGES || "";
const CHROMIUM = process.env.KEYPORT_CHROMIUM || "/usr/bin/chromium";
const MODEL = "gpt-4o-mini";
const KEY_NAME = "my-first-key";
const RESTRICTED = "claude-3-5-sonnet";
const RESTRICTED_KEY = "sonnet-key";
const SLASHED = "meta-llama/Llama-3.1-8B-Instruct";
if (!KEYPORT || !LITELLM) {
  console.error("KEYPORT_URL and LITELLM_URL must be set (scripts/e2e.sh does)");
  process.exit(2);
}

const results = new URL("../test-results/", import.meta.url).pathname;
const shots = path.join(results, "journey");
await rm(results, { recursive: true, force: true });
await mkdir(shots, { recursive: true });
if (DOCS) await mkdir(DOCS, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  // Root in a container: no sandbox. The network is closed here: no background connections.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ],
});
const context = await browser.newContext({
  baseURL: KEYPORT,
  viewport: { width: 1280, height: 800 },
  timezoneId: "Europe/Berlin",
  locale: "en-GB",
  colorScheme: "light",
});
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: KEYPORT });
const page = await context.newPage();
page.setDefaultTimeout(15_000);
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));
// The server's Content-Security-Policy must not block anything the app needs.
page.on("console", (m) => {
  if (m.type() === "error" && m.text().includes("Content Security Policy")) consoleErrors.push(m.text());
});
// Everything the browser loads comes from keyport (the LiteLLM calls below are the test's own, not the page's).
const foreignRequests = [];
page.on("request", (r) => {
  const url = r.url();
  if (!url.startsWith(`${new URL(KEYPORT).origin}/`) && !url.startsWith("data:")) foreignRequests.push(url);
});

let passed = 0;
let failed = 0;
let secret = "";

async function shot(name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file });
  if (DOCS) await copyFile(file, path.join(DOCS, `${name}.png`));
}

/** axe-core on the page as the browser lays it out (contrast included): no serious or critical violation. */
async function accessible(what) {
  // Evaluated through the DevTools protocol: the app's Content-Security-Policy (rightly) refuses inline
  // script tags, and the test must not weaken it.
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  if (violations.length) throw new Error(`accessibility of ${what}:\n  ${violations.join("\n  ")}`);
}

async function chat(key, model = MODEL) {
  const r = await fetch(`${LITELLM}/v1/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "Hello from the e2e journey" }] }),
  });
  return r.status;
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

async function step(name, run) {
  const started = Date.now();
  try {
    await run();
    passed += 1;
    console.log(`  ok    ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failed += 1;
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
    await page.screenshot({ path: path.join(results, `failure-${slug}.png`), fullPage: true }).catch(() => undefined);
    console.log(`  FAIL  ${name}: ${e instanceof Error ? e.message : e}`);
    throw e;
  }
}

const row = (text) => page.locator("tr", { hasText: text });
// PatternFly tables are ARIA grids: find them by their label.
const table = (label) => page.locator(`table[aria-label="${label}"]`);
const nav = (name) => page.getByRole("navigation", { name: "keyport" }).getByRole("link", { name, exact: true });

/** Signs out whoever is signed in, then signs in with the development login. */
async function signInAs(username, role) {
  const signOut = page.getByRole("button", { name: "Sign out" });
  if (await signOut.isVisible()) {
    await signOut.click();
    await page.getByRole("heading", { name: "Sign in to keyport" }).waitFor();
  }
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Role").selectOption(role);
  await page.getByRole("button", { name: "Sign in (development)" }).click();
  await page.getByTestId("signed-in-as").getByText(username).waitFor();
}

/** The key in the show-once dialog, checked against LiteLLM's double, then the dialog closed. */
async function readSecret() {
  const dialog = page.getByRole("dialog", { name: "Your new API key" });
  await dialog.waitFor();
  const value = await dialog.getByLabel("The new key").inputValue();
  await page.getByRole("button", { name: "I have stored the key" }).click();
  await page.getByRole("dialog").waitFor({ state: "detached" });
  return value;
}

try {
  await step("the login page offers the development login under its banner", async () => {
    await page.goto("/keys");
    await page.getByRole("heading", { name: "Sign in to keyport" }).waitFor();
    await page.getByText("Development login is enabled").waitFor();
    await accessible("the login page");
    await shot("01-login");
  });

  await step("a user signs in with the development login", async () => {
    await page.getByLabel("Username").fill("ada");
    await page.getByLabel("Role").selectOption("user");
    await page.getByRole("button", { name: "Sign in (development)" }).click();
    await page.getByRole("heading", { name: "API keys", exact: true }).waitFor();
    expect((await page.getByTestId("signed-in-as").textContent())?.includes("ada"), "the masthead names the user");
  });

  await step("the catalog lists the models with prices", async () => {
    await page.getByRole("link", { name: "Model catalog" }).click();
    await page.getByRole("heading", { name: "Model catalog" }).waitFor();
    await row(MODEL).first().waitFor();
    await accessible("the catalog");
    await shot("02-catalog");
  });

  await step(`the user subscribes to ${MODEL}`, async () => {
    await row(MODEL).first().getByRole("button", { name: /^Subscribe/ }).click();
    await row(MODEL).first().getByText("active").waitFor();
    await page.getByRole("link", { name: "My subscriptions" }).click();
    await row(MODEL).first().getByText("active").waitFor();
    await accessible("my subscriptions");
    await shot("03-subscriptions");
  });

  await step("the user creates a key choosing the subscription", async () => {
    await page.getByRole("link", { name: "API keys" }).click();
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog", { name: "Create an API key" });
    await dialog.getByLabel("Name").fill(KEY_NAME);
    const box = dialog.getByLabel(MODEL);
    if (!(await box.isChecked())) await box.check();
    expect((await dialog.getByLabel("Budget (USD)").inputValue()) !== undefined, "the budget field is there");
    await accessible("the create-key dialog");
    await shot("04-create-key");
    await dialog.getByRole("button", { name: "Create key" }).click();
  });

  await step("the show-once dialog gives the key, with examples", async () => {
    const dialog = page.getByRole("dialog", { name: "Your new API key" });
    await dialog.waitFor();
    secret = await dialog.getByLabel("The new key").inputValue();
    expect(/^sk-kp-[A-Za-z0-9]{20,}$/.test(secret), `a key in the dialog: ${secret.slice(0, 12)}…`);
    await dialog.getByRole("button", { name: "Copy the key" }).click();
    const copied = await page.evaluate(() => navigator.clipboard.readText()).catch(() => "");
    if (copied) expect(copied === secret, "the copy button copies the key");
    expect((await dialog.textContent())?.includes(`Bearer ${secret}`), "the curl example carries the key");
    expect((await dialog.textContent())?.includes(LITELLM), "the examples use the LiteLLM URL");
    await accessible("the show-once dialog");
    await shot("05-show-once");
  });

  await step("the key works against LiteLLM", async () => {
    expect((await chat(secret)) === 200, "chat with the new key answers 200");
  });

  await step("closing the dialog forgets the secret; the list shows the key", async () => {
    await page.getByRole("button", { name: "I have stored the key" }).click();
    await page.getByRole("dialog").waitFor({ state: "detached" });
    expect(!(await page.content()).includes(secret), "the secret is gone from the page");
    await row(KEY_NAME).getByText("active").waitFor();
    await accessible("the key list");
    await shot("06-keys");
  });

  await step("the user revokes the key after confirming", async () => {
    await page.getByRole("button", { name: `Actions for ${KEY_NAME}` }).click();
    await page.getByRole("menuitem", { name: "Revoke" }).click();
    const dialog = page.getByRole("dialog", { name: new RegExp(`Revoke ${KEY_NAME}`) });
    await shot("07-revoke");
    await dialog.getByRole("button", { name: "Revoke" }).click();
    await dialog.waitFor({ state: "detached" });
    await row(KEY_NAME).getByText("revoked", { exact: true }).waitFor();
    await shot("08-revoked");
  });

  await step("the revoked key is rejected by LiteLLM", async () => {
    let status = 0;
    for (let i = 0; i < 50; i += 1) {
      status = await chat(secret);
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status === 401, `chat with the revoked key answers 401 (got ${status})`);
  });

  await step(`an admin marks ${RESTRICTED} restricted on the models page`, async () => {
    await signInAs("grace", "admin");
    await nav("Models").click();
    await page.getByRole("heading", { name: "Models", exact: true }).waitFor();
    const toggle = page.getByRole("switch", { name: `Restricted: ${RESTRICTED}` });
    expect(!(await toggle.isChecked()), `${RESTRICTED} starts open`);
    // By keyboard, as a keyboard user would (the switch's track covers its input for the mouse).
    await toggle.focus();
    await page.keyboard.press("Space");
    await page.getByText(/saved\./).waitFor();
    await page.getByRole("switch", { name: `Restricted: ${RESTRICTED}`, checked: true }).waitFor();
    // A model id with a slash reaches PATCH /admin/models/{id} whole: hide it, then show it again.
    const hidden = page.getByRole("switch", { name: `Hidden: ${SLASHED}` });
    for (const on of [true, false]) {
      await hidden.focus();
      await page.keyboard.press("Space");
      await page.getByRole("switch", { name: `Hidden: ${SLASHED}`, checked: on }).waitFor();
    }
    await accessible("the models page");
    await shot("09-admin-models");
  });

  await step("the user requests access to the restricted model", async () => {
    await signInAs("ada", "user");
    await nav("Model catalog").click();
    await row(RESTRICTED).first().getByRole("button", { name: /^Request access/ }).click();
    await row(RESTRICTED).first().getByText("pending approval").waitFor();
    await nav("My subscriptions").click();
    await row(RESTRICTED).first().getByText("pending approval").waitFor();
    await shot("10-request-access");
  });

  await step("the admin approves the request on the approvals page (bulk select)", async () => {
    await signInAs("grace", "admin");
    await nav("Approvals").click();
    await page.getByRole("heading", { name: "Approvals" }).waitFor();
    await page.getByTestId(`pending-ada-${RESTRICTED}`).waitFor();
    await page.getByRole("checkbox", { name: "Select all" }).check();
    await page.getByRole("button", { name: /^Approve selected \(1\)/ }).waitFor();
    await accessible("the approvals page");
    await shot("11-admin-approvals");
    await page.getByRole("button", { name: /^Approve selected/ }).click();
    await page.getByText("Approved 1; 0 unchanged").waitFor();
    await page.getByText("Nothing waits for approval").waitFor();
  });

  await step("the admin pages show the users, a user's keys and subscriptions, settings and the audit log", async () => {
    await nav("Users").click();
    await page.getByRole("link", { name: "ada", exact: true }).click();
    await page.getByRole("heading", { name: "ada" }).waitFor();
    await table("The user's subscriptions").getByText(RESTRICTED).waitFor();
    await table("The user's keys").getByText(KEY_NAME).waitFor();
    await accessible("a user's page");
    await shot("12-admin-user");
    await nav("Settings").click();
    await page.getByRole("button", { name: "Save settings" }).waitFor();
    await accessible("the settings page");
    await shot("13-admin-settings");
    await nav("Audit log").click();
    await table("Audit events").getByText("subscription.approve").first().waitFor();
    await accessible("the audit log");
    await shot("14-admin-audit");
  });

  await step("the approved subscription is active and a key for it works", async () => {
    await signInAs("ada", "user");
    await nav("My subscriptions").click();
    await row(RESTRICTED).first().getByText("active").waitFor();
    await nav("API keys").click();
    await page.getByRole("button", { name: "Create API key" }).click();
    const dialog = page.getByRole("dialog", { name: "Create an API key" });
    await dialog.getByLabel("Name").fill(RESTRICTED_KEY);
    const mini = dialog.getByLabel(MODEL);
    if (await mini.isChecked()) await mini.uncheck();
    await dialog.getByLabel(RESTRICTED).check();
    await dialog.getByRole("button", { name: "Create key" }).click();
    const key = await readSecret();
    await row(RESTRICTED_KEY).getByText("active").waitFor();
    expect((await chat(key, RESTRICTED)) === 200, `chat with ${RESTRICTED} answers 200`);
  });

  await step("an auditor sees the administration pages without change controls", async () => {
    await signInAs("audrey", "auditor");
    await page.getByText("Oversight (read-only)").waitFor();
    for (const [link, heading] of [
      ["Users", "Users"],
      ["Approvals", "Approvals"],
      ["Models", "Models"],
      ["All keys", "All keys"],
      ["Settings", "Settings"],
      ["Audit log", "Audit log"],
    ]) {
      await nav(link).click();
      await page.getByRole("heading", { name: heading, exact: true }).waitFor();
      await page.getByText(/Read-only: auditors/).first().waitFor();
    }
    await nav("Models").click();
    await row(RESTRICTED).getByText("restricted").waitFor();
    expect((await page.getByRole("switch").count()) === 0, "no switches for auditors on the models page");
    expect((await page.getByRole("button", { name: /^Edit/ }).count()) === 0, "no edit for auditors");
    await nav("All keys").click();
    await row(RESTRICTED_KEY).waitFor();
    expect((await page.getByRole("button", { name: /^Revoke/ }).count()) === 0, "no revoke for auditors");
    await nav("Settings").click();
    await page.getByLabel("Default key lifetime (days)").waitFor();
    expect((await page.getByRole("button", { name: "Save settings" }).count()) === 0, "no save for auditors");
    await nav("Approvals").click();
    await page.getByText("Nothing waits for approval").waitFor();
    expect((await page.getByRole("button", { name: /^Approve/ }).count()) === 0, "no approve for auditors");
    await nav("Users").click();
    await page.getByRole("link", { name: "ada", exact: true }).click();
    await page.getByRole("heading", { name: "ada" }).waitFor();
    expect((await page.getByRole("button", { name: /Suspend|Save roles|Revoke|Grant/ }).count()) === 0, "no user changes");
    await accessible("a user's page for an auditor");
    await shot("15-auditor-user");
  });

  await step("the API reference at /api/docs renders the operations from keyport's own copy of its script", async () => {
    await page.goto("/api/docs#tag/api-keys/GET/api/v1/api-keys");
    await page.getByRole("heading", { name: "keyport", level: 1 }).waitFor();
    // An operation with its query parameters (the page renders sections as they scroll into view).
    await page.getByRole("heading", { name: /^Your API keys, newest first/ }).first().waitFor();
    await page.getByText("Query Parameters").first().waitFor();
    const scripts = await page.locator("script[src]").evaluateAll((s) => s.map((e) => e.getAttribute("src")));
    expect(
      scripts.length === 1 && scripts.every((src) => src?.startsWith("/assets/")),
      `one script, from keyport: ${scripts.join(", ")}`,
    );
    await shot("16-api-docs");
  });

  await step("the page raised no script error, the CSP blocked nothing, nothing came from elsewhere", async () => {
    expect(consoleErrors.length === 0, `script errors: ${consoleErrors.join("; ")}`);
    expect(foreignRequests.length === 0, `requests to other origins: ${foreignRequests.join(", ")}`);
  });
} catch {
  // reported by the step
} finally {
  await browser.close();
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
