CREATE TABLE ticket_templates (
    tenant     text    NOT NULL,
    name       text    NOT NULL,
    is_default boolean NOT NULL DEFAULT false,
    body       jsonb   NOT NULL,
    PRIMARY KEY (tenant, name)
);
CREATE UNIQUE INDEX ticket_templates_one_default ON ticket_templates (tenant) WHERE is_default;
