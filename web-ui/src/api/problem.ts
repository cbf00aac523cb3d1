// The server answers every error as RFC 9457 application/problem+json; this is that answer in the browser.

export interface FieldProblem {
  field: string;
  message: string;
}

/** An error answer of the API (or a request that got no answer at all: status 0). */
export class ApiProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldProblem[];

  constructor(init: {
    status: number;
    type?: string;
    code?: string;
    title?: string;
    detail: string;
    errors?: FieldProblem[];
  }) {
    super(init.detail);
    this.name = "ApiProblem";
    this.status = init.status;
    this.code = init.code ?? "unknown";
    this.type = init.type ?? `urn:keyport:problem:${this.code}`;
    this.title = init.title ?? "Request failed";
    this.detail = init.detail;
    this.errors = init.errors ?? [];
  }

  /** The message for one field (`name`, `limits.max_budget`, `subscription_ids[0]` …), if the server named it. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field || e.field.startsWith(`${field}[`))?.message;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null;
}

/** Turns an error answer's body (parsed JSON, text or nothing) into an ApiProblem. */
export function toProblem(status: number, body: unknown, statusText = ""): ApiProblem {
  if (isRecord(body) && typeof body.detail === "string") {
    const errors = Array.isArray(body.errors)
      ? body.errors.filter(
          (e): e is FieldProblem =>
            isRecord(e) && typeof e.field === "string" && typeof e.message === "string",
        )
      : [];
    return new ApiProblem({
      status,
      type: typeof body.type === "string" ? body.type : undefined,
      code: typeof body.code === "string" ? body.code : undefined,
      title: typeof body.title === "string" ? body.title : undefined,
      detail: body.detail,
      errors,
    });
  }
  const text = typeof body === "string" && body.trim() !== "" ? body.trim().slice(0, 300) : "";
  return new ApiProblem({
    status,
    code: status === 0 ? "network" : "unexpected-answer",
    title: status === 0 ? "No answer from keyport" : `HTTP ${status} ${statusText}`.trim(),
    detail: text || (status === 0 ? "keyport could not be reached." : `keyport answered HTTP ${status}.`),
  });
}

/** Any thrown value as an ApiProblem, so every error view can show a detail. */
export function asProblem(error: unknown): ApiProblem {
  if (error instanceof ApiProblem) return error;
  if (error instanceof Error) return new ApiProblem({ status: 0, code: "network", detail: error.message });
  return new ApiProblem({ status: 0, code: "network", detail: String(error) });
}
