-- TypeAuth schema, version 2 (SQLite): the route rule set managed through the
-- API. One row: the rule list is replaced as a whole, with a version that
-- replicas poll. rules is the JSON array of auth.Rule.

CREATE TABLE rule_set (
    one        INTEGER PRIMARY KEY CHECK (one = 1),
    version    INTEGER NOT NULL,
    no_match   TEXT    NOT NULL,
    rules      BLOB    NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO rule_set (one, version, no_match, rules, updated_at) VALUES (1, 0, 'deny', CAST('[]' AS BLOB), 0);
