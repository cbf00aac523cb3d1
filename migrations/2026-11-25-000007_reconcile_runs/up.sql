-- One row per reconcile pass (background or `keyport reconcile`), so that admins see when the last pass ran
-- and what it found, whichever replica ran it.
CREATE TABLE reconcile_runs (
    id bigserial PRIMARY KEY,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    trigger text NOT NULL,
    dry_run boolean NOT NULL,
    litellm_keys bigint NOT NULL DEFAULT 0,
    keyport_rows bigint NOT NULL DEFAULT 0,
    litellm_calls bigint NOT NULL DEFAULT 0,
    -- Findings by kind, e.g. {"orphan": 2, "drift": 1}.
    findings jsonb NOT NULL DEFAULT '{}',
    fixed bigint NOT NULL DEFAULT 0,
    -- Why the pass failed; NULL when it completed.
    error text,
    CONSTRAINT reconcile_runs_trigger_known CHECK (trigger IN ('background', 'command')),
    CONSTRAINT reconcile_runs_finished_after_start CHECK (finished_at >= started_at),
    CONSTRAINT reconcile_runs_counts_not_negative
        CHECK (litellm_keys >= 0 AND keyport_rows >= 0 AND litellm_calls >= 0 AND fixed >= 0),
    CONSTRAINT reconcile_runs_findings_object CHECK (jsonb_typeof(findings) = 'object')
);

CREATE INDEX reconcile_runs_started ON reconcile_runs (started_at DESC);
