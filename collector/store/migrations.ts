// The store's schema, as an ordered list of migrations. PRAGMA user_version records the
// last one applied; start-up applies the rest, each in its own transaction. Never edit a
// released migration: append a new one.
import type { Database } from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'reports, finding history, audit events, namespace labels',
    sql: `
      -- The latest accepted report per node (its findings are in current_findings).
      CREATE TABLE node_reports (
        node          TEXT PRIMARY KEY,
        sequence      INTEGER NOT NULL,
        boot_id       TEXT NOT NULL,
        scanned_at    TEXT NOT NULL,
        received_at   TEXT NOT NULL,
        proxy_mode    TEXT NOT NULL,
        cni           TEXT NOT NULL,
        agent_version TEXT NOT NULL,
        checks_json   TEXT NOT NULL
      );
      CREATE TABLE current_findings (
        node          TEXT NOT NULL,
        ord           INTEGER NOT NULL,
        check_id      TEXT NOT NULL,
        status        TEXT NOT NULL,
        severity      TEXT NOT NULL,
        subject       TEXT NOT NULL,
        message       TEXT NOT NULL,
        evidence_json TEXT,
        PRIMARY KEY (node, ord)
      ) WITHOUT ROWID;
      -- When each finding (node + check + subject) opened and closed.
      CREATE TABLE finding_history (
        id        INTEGER PRIMARY KEY,
        node      TEXT NOT NULL,
        check_id  TEXT NOT NULL,
        subject   TEXT NOT NULL,
        status    TEXT NOT NULL,
        severity  TEXT NOT NULL,
        message   TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        closed_at TEXT
      );
      CREATE UNIQUE INDEX finding_history_open ON finding_history (node, check_id, subject) WHERE closed_at IS NULL;
      CREATE INDEX finding_history_closed ON finding_history (closed_at) WHERE closed_at IS NOT NULL;
      -- Every accepted audit event, once per (audit_id, stage): the API server retries batches.
      CREATE TABLE audit_events (
        id               INTEGER PRIMARY KEY,
        audit_id         TEXT NOT NULL,
        stage            TEXT NOT NULL,
        source           TEXT NOT NULL,
        received_ms      INTEGER NOT NULL,
        event_ms         INTEGER NOT NULL,
        verb             TEXT NOT NULL,
        resource         TEXT NOT NULL,
        subresource      TEXT NOT NULL,
        namespace        TEXT NOT NULL,
        name             TEXT NOT NULL,
        name_source      TEXT NOT NULL,
        username         TEXT NOT NULL,
        response_code    INTEGER NOT NULL,
        psa              INTEGER NOT NULL,      -- 1 when the event carries PSA facts
        enforce_policy   TEXT,
        audit_level      TEXT,
        audit_version    TEXT,
        audit_violations TEXT,                  -- the annotation, verbatim
        exempt           TEXT,
        psa_error        TEXT,
        denied_level     TEXT,
        denied_version   TEXT,
        denial_message   TEXT,
        -- Violated controls as a JSON array of PSS check ids, in the API server's order; a reason
        -- no check id is known for is kept as "?<reason>". Details stay in the verbatim texts.
        audit_controls   TEXT,
        denied_controls  TEXT,
        UNIQUE (audit_id, stage)
      );
      CREATE INDEX audit_events_time ON audit_events (event_ms);
      -- Namespaces' PSA labels as last seen in the cluster context.
      CREATE TABLE psa_namespaces (
        name        TEXT PRIMARY KEY,
        labels_json TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'findings an agent left out of a bounded report, counted',
    sql: `
      -- JSON array of { check, status, severity, count }: what the report did not carry.
      ALTER TABLE node_reports ADD COLUMN omitted_json TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 3,
    name: 'the node fingerprint of each report (migrate check --collector)',
    sql: `
      -- agent/fingerprint.ts NodeFingerprint as the agent sent it; '' when it sent none.
      ALTER TABLE node_reports ADD COLUMN fingerprint_json TEXT NOT NULL DEFAULT '';
    `,
  },
];

/** Applies pending migrations; returns the versions before and after. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): { from: number; to: number } {
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]!.version <= migrations[i - 1]!.version) throw new Error(`migration versions must increase (${migrations[i]!.version} after ${migrations[i - 1]!.version})`);
  }
  const latest = migrations.at(-1)?.version ?? 0;
  const from = Number(db.pragma('user_version', { simple: true }));
  if (from > latest) {
    throw new Error(`the database schema is version ${from}, newer than this collector understands (${latest}); use a newer collector or another --db`);
  }
  for (const m of migrations) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return { from, to: Math.max(from, latest) };
}
