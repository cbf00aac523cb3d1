import { describe, expect, it } from "vitest";
import { api, csrfFromCookies, setCsrfToken, unwrap } from "./client";
import { ApiProblem, toProblem } from "./problem";
import { fakeApi, problem } from "../test/render";

describe("the API client", () => {
  it("sends the CSRF token on unsafe methods only, with the session cookie", async () => {
    setCsrfToken("csrf-123");
    const calls = fakeApi({
      "GET /api/v1/subscriptions": { body: { items: [] } },
      "POST /api/v1/subscriptions": { status: 201, body: { id: "s" } },
    });
    await unwrap(api.GET("/api/v1/subscriptions"));
    await unwrap(api.POST("/api/v1/subscriptions", { body: { model_id: "gpt-4o-mini" } }));
    expect(calls[0]?.headers.get("X-CSRF-Token")).toBeNull();
    expect(calls[1]?.headers.get("X-CSRF-Token")).toBe("csrf-123");
    expect(calls[1]?.body).toEqual({ model_id: "gpt-4o-mini" });
    setCsrfToken(null);
  });

  it("reads the CSRF cookie under its HTTPS (__Host-) and its plain-HTTP name", () => {
    expect(csrfFromCookies("__Host-keyport_csrf=abc%3D")).toBe("abc=");
    expect(csrfFromCookies("theme=dark; keyport_csrf=def")).toBe("def");
    // The __Host- one cannot have been planted by another site or over plain HTTP: it wins.
    expect(csrfFromCookies("keyport_csrf=planted; __Host-keyport_csrf=real")).toBe("real");
    expect(csrfFromCookies("keyport_csrf_other=x; Host-keyport_csrf=y")).toBeNull();
    expect(csrfFromCookies("")).toBeNull();
  });

  it("turns a problem+json answer into an ApiProblem with the detail and field errors", async () => {
    fakeApi({
      "POST /api/v1/api-keys": problem(422, "validation", "2 fields are invalid", [
        { field: "name", message: "a live key is already named so" },
        { field: "limits.max_budget", message: "above the quota" },
      ]),
    });
    const error = await unwrap(api.POST("/api/v1/api-keys", { body: { name: "k", subscription_ids: [] } })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiProblem);
    const p = error as ApiProblem;
    expect(p.status).toBe(422);
    expect(p.code).toBe("validation");
    expect(p.detail).toBe("2 fields are invalid");
    expect(p.fieldError("name")).toBe("a live key is already named so");
    expect(p.fieldError("limits.max_budget")).toBe("above the quota");
  });

  it("gives a detail even when the answer is not a problem", () => {
    const p = toProblem(502, "<html>Bad gateway</html>", "Bad Gateway");
    expect(p.status).toBe(502);
    expect(p.detail).toContain("Bad gateway");
    expect(toProblem(0, undefined).detail).toBe("keyport could not be reached.");
  });

  it("names field errors of list items by their list", () => {
    const p = toProblem(422, { detail: "x", errors: [{ field: "subscription_ids[1]", message: "not active" }] });
    expect(p.fieldError("subscription_ids")).toBe("not active");
  });
});
