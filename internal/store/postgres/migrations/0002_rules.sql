-- TypeAuth schema, version 2 (PostgreSQL): the route rule set managed through
-- the API. One row: the rule list is replaced as a whole, with a version that
-- replicas poll. rules is the JSON array of auth.Rule.

CREATE TABLE rule_set (
    one        integer     PRIMARY KEY CHECK (one = 1),
    version    bigint      NOT NULL,
    no_match   text        NOT NULL,
    rules      bytea       NOT NULL,
    updated_at bigint      NOT NULL
);
INSERT INTO rule_set (one, version, no_match, rules, updated_at) VALUES (1, 0, 'deny', '[]'::bytea, 0);
