CREATE TABLE sync_configs (
    tenant       text   NOT NULL,
    organization bigint NOT NULL,
    version      bigint NOT NULL CHECK (version > 0),
    body         jsonb  NOT NULL,
    PRIMARY KEY (tenant, organization)
);
CREATE TABLE sync_modes (
    tenant text PRIMARY KEY,
    mode   text NOT NULL
);
CREATE TABLE ci_mappings (
    tenant text  NOT NULL,
    name   text  NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE TABLE audit_heads (
    tenant   text   PRIMARY KEY,
    last_seq bigint NOT NULL
);
CREATE TABLE audit_log (
    tenant       text        NOT NULL,
    seq          bigint      NOT NULL,
    organization bigint,
    actor        text        NOT NULL,
    at           timestamptz NOT NULL,
    body         jsonb       NOT NULL,
    PRIMARY KEY (tenant, seq)
);
CREATE INDEX audit_log_organization ON audit_log (tenant, organization, seq);
CREATE TABLE ticket_records (
    tenant text  NOT NULL,
    key    text  NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE ci_records (
    tenant text  NOT NULL,
    key    text  NOT NULL,
    body   jsonb NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE work_items (
    id           bigserial   PRIMARY KEY,
    tenant       text        NOT NULL,
    organization bigint      NOT NULL,
    body         jsonb       NOT NULL,
    state        text        NOT NULL CHECK (state IN ('queued', 'claimed', 'done')),
    worker       text,
    claims       integer     NOT NULL DEFAULT 0,
    lease_until  timestamptz,
    result       jsonb,
    applied      boolean     NOT NULL DEFAULT false,
    enqueued_at  timestamptz NOT NULL,
    completed_at timestamptz
);
CREATE UNIQUE INDEX work_items_outstanding ON work_items (tenant, organization)
    WHERE state <> 'done';
CREATE INDEX work_items_queued ON work_items (tenant, id) WHERE state = 'queued';
CREATE INDEX work_items_claimed ON work_items (tenant, lease_until) WHERE state = 'claimed';
