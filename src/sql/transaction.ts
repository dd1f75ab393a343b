/**
 * Which statements PostgreSQL refuses inside a transaction block, and which are transaction
 * control. The list follows every `PreventInTransactionBlock()` call reachable from a statement in
 * PostgreSQL 17 (tcop/utility.c and the commands it calls). ALTER TYPE ... ADD VALUE is not here:
 * it runs in a transaction since PostgreSQL 12 (the new value is usable after commit).
 *
 * What the text alone cannot tell (the server decides at run time, and the migration fails with
 * "cannot run inside a transaction block"): CLUSTER or REINDEX TABLE/INDEX of a *partitioned*
 * table, DROP SUBSCRIPTION of a subscription whose slot was set to NONE (transactional, reported
 * here as not), and procedures called with CALL that COMMIT.
 */
import type { Node } from './parser.js';
import { nodeAs } from './parser.js';

/** The command as PostgreSQL names it in "X cannot run inside a transaction block", if it would. */
export function nonTransactionalReason(node: Node): string | undefined {
  for (const rule of RULES) {
    const reason = rule(node);
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** True for BEGIN/START TRANSACTION/COMMIT/END/ROLLBACK/ABORT/SAVEPOINT/RELEASE/PREPARE TRANSACTION/... */
export function isTransactionControl(node: Node): boolean {
  return nodeAs(node, 'TransactionStmt') !== undefined;
}

/**
 * What a statement does to an explicit transaction block of the session (a `no-transaction` file
 * may manage its own): BEGIN/START TRANSACTION open one; COMMIT/END, ROLLBACK/ABORT (without AND
 * CHAIN, which opens the next one at once) and PREPARE TRANSACTION close it. Savepoints live inside
 * a block and change nothing here.
 */
export function transactionBlockEffect(node: Node): 'opens' | 'closes' | undefined {
  const stmt = nodeAs(node, 'TransactionStmt');
  switch (stmt?.kind) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return 'opens';
    case 'TRANS_STMT_COMMIT':
    case 'TRANS_STMT_ROLLBACK':
      return stmt.chain === true ? undefined : 'closes';
    case 'TRANS_STMT_PREPARE':
      return 'closes';
    default:
      return undefined;
  }
}

type Rule = (node: Node) => string | undefined;

const RULES: Rule[] = [
  (n) => (nodeAs(n, 'IndexStmt')?.concurrent ? 'CREATE INDEX CONCURRENTLY' : undefined),
  (n) => (nodeAs(n, 'DropStmt')?.concurrent ? 'DROP INDEX CONCURRENTLY' : undefined),
  reindex,
  (n) => (nodeAs(n, 'VacuumStmt')?.is_vacuumcmd ? 'VACUUM' : undefined), // ANALYZE alone is fine
  clusterAll,
  (n) => (nodeAs(n, 'CreatedbStmt') !== undefined ? 'CREATE DATABASE' : undefined),
  (n) => (nodeAs(n, 'DropdbStmt') !== undefined ? 'DROP DATABASE' : undefined),
  (n) => (hasOption(nodeAs(n, 'AlterDatabaseStmt')?.options, 'tablespace') ? 'ALTER DATABASE SET TABLESPACE' : undefined),
  (n) => (nodeAs(n, 'CreateTableSpaceStmt') !== undefined ? 'CREATE TABLESPACE' : undefined),
  (n) => (nodeAs(n, 'DropTableSpaceStmt') !== undefined ? 'DROP TABLESPACE' : undefined),
  (n) => (nodeAs(n, 'AlterSystemStmt') !== undefined ? 'ALTER SYSTEM' : undefined),
  (n) => (nodeAs(n, 'DiscardStmt')?.target === 'DISCARD_ALL' ? 'DISCARD ALL' : undefined),
  detachConcurrently,
  createSubscription,
  // A subscription has a replication slot unless someone set slot_name = NONE: assume it has one.
  (n) => (nodeAs(n, 'DropSubscriptionStmt') !== undefined ? 'DROP SUBSCRIPTION' : undefined),
  alterSubscription,
  preparedTransaction,
];

function reindex(node: Node): string | undefined {
  const stmt = nodeAs(node, 'ReindexStmt');
  if (stmt === undefined) return undefined;
  if (stmt.kind === 'REINDEX_OBJECT_SCHEMA') return 'REINDEX SCHEMA';
  if (stmt.kind === 'REINDEX_OBJECT_DATABASE') return 'REINDEX DATABASE';
  if (stmt.kind === 'REINDEX_OBJECT_SYSTEM') return 'REINDEX SYSTEM';
  return booleanOption(stmt.params, 'concurrently') === true ? 'REINDEX CONCURRENTLY' : undefined;
}

function clusterAll(node: Node): string | undefined {
  const stmt = nodeAs(node, 'ClusterStmt');
  // Bare CLUSTER re-clusters every table, each in its own transaction.
  return stmt !== undefined && stmt.relation === undefined ? 'CLUSTER' : undefined;
}

function detachConcurrently(node: Node): string | undefined {
  const cmds = nodeAs(node, 'AlterTableStmt')?.cmds ?? [];
  const detaching = cmds.some((cmd) => {
    const alter = nodeAs(cmd, 'AlterTableCmd');
    return alter?.subtype === 'AT_DetachPartition' && nodeAs(alter.def, 'PartitionCmd')?.concurrent === true;
  });
  return detaching ? 'ALTER TABLE ... DETACH CONCURRENTLY' : undefined;
}

function createSubscription(node: Node): string | undefined {
  const stmt = nodeAs(node, 'CreateSubscriptionStmt');
  if (stmt === undefined) return undefined;
  // create_slot defaults to the value of connect, which defaults to true.
  const createSlot = booleanOption(stmt.options, 'create_slot') ?? booleanOption(stmt.options, 'connect') ?? true;
  return createSlot ? 'CREATE SUBSCRIPTION ... WITH (create_slot = true)' : undefined;
}

function alterSubscription(node: Node): string | undefined {
  const stmt = nodeAs(node, 'AlterSubscriptionStmt');
  if (stmt === undefined) return undefined;
  switch (stmt.kind) {
    case 'ALTER_SUBSCRIPTION_REFRESH':
      return 'ALTER SUBSCRIPTION ... REFRESH';
    case 'ALTER_SUBSCRIPTION_SET_PUBLICATION':
    case 'ALTER_SUBSCRIPTION_ADD_PUBLICATION':
    case 'ALTER_SUBSCRIPTION_DROP_PUBLICATION':
      return (booleanOption(stmt.options, 'refresh') ?? true) ? 'ALTER SUBSCRIPTION with refresh' : undefined;
    case 'ALTER_SUBSCRIPTION_OPTIONS':
      // Changing these alters the remote slot too (failover: PostgreSQL 17, two_phase: 18).
      if (hasOption(stmt.options, 'failover')) return 'ALTER SUBSCRIPTION ... SET (failover)';
      if (hasOption(stmt.options, 'two_phase')) return 'ALTER SUBSCRIPTION ... SET (two_phase)';
      return undefined;
    default:
      return undefined;
  }
}

function preparedTransaction(node: Node): string | undefined {
  const kind = nodeAs(node, 'TransactionStmt')?.kind;
  if (kind === 'TRANS_STMT_COMMIT_PREPARED') return 'COMMIT PREPARED';
  if (kind === 'TRANS_STMT_ROLLBACK_PREPARED') return 'ROLLBACK PREPARED';
  return undefined;
}

function hasOption(options: Node[] | undefined, name: string): boolean {
  return (options ?? []).some((option) => nodeAs(option, 'DefElem')?.defname === name);
}

/** An option's boolean value as defGetBoolean reads it; `undefined` when the option is absent. */
function booleanOption(options: Node[] | undefined, name: string): boolean | undefined {
  const option = (options ?? []).map((o) => nodeAs(o, 'DefElem')).find((o) => o?.defname === name);
  if (option === undefined) return undefined;
  if (option.arg === undefined) return true; // `(CONCURRENTLY)` alone means true
  const boolean = nodeAs(option.arg, 'Boolean');
  if (boolean !== undefined) return boolean.boolval === true;
  const integer = nodeAs(option.arg, 'Integer');
  if (integer !== undefined) return (integer.ival ?? 0) !== 0;
  const text = (nodeAs(option.arg, 'String')?.sval ?? '').toLowerCase();
  return !['false', 'off', '0'].includes(text);
}
