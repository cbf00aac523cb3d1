// The end-to-end journey of a user, in Debian's Chromium through playwright-core, against the keyport,
// PostgreSQL and LiteLLM double that scripts/e2e.sh started (KEYPORT_URL, LITELLM_URL):
// sign in (development login), subscribe to a model, create a key choosing the subscription, read it from
// the show-once dialog, call the double with it (200), revoke it in the UI, call again (401).
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
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
  if (violations.length) throw new Error(`accessibility of ${what}:\n  ${violations.join("\n  ")}`);
}

async function chat(key) {
  const r = await fetch(`${LITELLM}/v1/chat/completions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "Hello from the e2e journey" }] }),
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
    await page.getByRole("heading", { name: "API keys" }).waitFor();
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

  await step("the page raised no script error", async () => {
    expect(consoleErrors.length === 0, `script errors: ${consoleErrors.join("; ")}`);
  });
} catch {
  // reported by the step
} finally {
  await browser.close();
}

console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
