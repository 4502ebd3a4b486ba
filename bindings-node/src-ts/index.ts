/**
 * sealtrail: a tamper-evident audit trail for AI agents.
 *
 * A thin facade over the native module (`native.js`, napi-rs): it keeps the
 * per-call context in `AsyncLocalStorage`, wraps tools, and hands values to
 * core, which redacts, seals, batches and ships them on its own thread.
 * Nothing here throws into the agent because auditing failed.
 *
 * ```ts
 * import * as sealtrail from 'sealtrail'
 * sealtrail.init({ agentId: 'billing-agent' })
 * const lookup = sealtrail.wrapTool('lookup', async (q: string) => db.find(q))
 * await sealtrail.session({ actorId: 'user-1' }, () => lookup('ACME'))
 * ```
 */

import { AsyncLocalStorage } from 'node:async_hooks'

import * as native from '../native'

// ---------------------------------------------------------------- types

/** Event types (`custom` for anything else). */
export type EventType =
  | 'request'
  | 'model_call'
  | 'tool_call'
  | 'tool_result'
  | 'response'
  | 'error'
  | 'decision'
  | 'custom'

/**
 * Client configuration. Every field is optional: unset fields come from the
 * `SEALTRAIL_*` environment, then core's defaults (each documented once, in
 * core's `ClientConfig`). Values are handed to core's parser as text, so
 * `SEALTRAIL_BATCH_SIZE=100` and `{ batchSize: 100 }` mean the same. With
 * no endpoint the client writes the local ledger (`./sealtrail-ledger.jsonl`).
 */
export interface ClientOptions {
  endpoint?: string
  apiKey?: string
  agentId?: string
  spoolDir?: string
  spoolMaxBytes?: number
  ledgerPath?: string
  batchSize?: number
  lingerMs?: number
  queueCapacity?: number
  highWater?: number
  /** `spill` (default), `drop_newest`, `block` or `block:MILLIS`. */
  overflow?: string
  maxInMemoryBatches?: number
  compression?: 'none' | 'gzip' | 'zstd'
  fsync?: boolean
  hmacKey?: string
  requestTimeoutMs?: number
  connectTimeoutMs?: number
  backoffInitialMs?: number
  backoffMaxMs?: number
  shutdownTimeoutMs?: number
  maxEventBytes?: number
  maxDepth?: number
  /** What `recordModelCall` keeps of the messages besides their hash: `none`, `redacted` (default) or `full`. */
  promptStorage?: 'none' | 'redacted' | 'full'
  /** Receipts kept in `<spoolDir>/receipts.jsonl` for {@link auditReceipts} (default 10000; 0 keeps none). */
  receiptsMax?: number
  /** The transparency log's verifier key (`<log-name>+<keyid>+<base64>`), for {@link auditReceipts}. */
  logKey?: string
}

export type InitOptions = ClientOptions & {
  /** Flush on `beforeExit` and on SIGINT/SIGTERM (default true). */
  installExitHooks?: boolean
  /** How long exit hooks wait for delivery, in ms (default 2000). */
  exitTimeoutMs?: number
}

/** Core's counters (`MetricsSnapshot`), in core's snake_case. */
export interface Metrics {
  recorded: number
  delivered: number
  duplicates: number
  spooled: number
  replayed: number
  dropped: number
  dropped_queue_full: number
  dropped_spool_full: number
  invalid: number
  rejected: number
  retries: number
  ledger_written: number
  persisted: number
  queue_depth: number
  spool_bytes: number
  spool_torn_bytes: number
  /** Receipts appended to `<spoolDir>/receipts.jsonl`. */
  receipts_kept: number
  /** Receipts that could not be kept (delivery is unaffected). */
  receipts_failed: number
  last_error: string | null
}

/** What `flush` and `shutdown` report (core's `DeliveryReport`). */
export interface DeliveryReport {
  /** True when everything recorded before the call was delivered, spooled or written to the ledger in time. */
  complete: boolean
  delivered: number
  spooled: number
  dropped: number
  rejected: number
  ledger_written: number
  /** Events still in the queue when the report was made. */
  queued: number
}

/** The verdict on one chain of a ledger (core's `LedgerChain`). */
export interface LedgerChain {
  org_id: string
  agent_id: string
  /** Links that verified (up to the break, if any). */
  count: number
  head_seq: number
  head_hash: string
  /** The first broken link: its seq, why (edited, missing, reordered, forged) and detail. */
  broken: { seq: number; reason: string; detail: string } | null
  /** 1-based line number of the first broken link. */
  broken_line: number | null
}

/** What `verifyLedger` found (core's `LedgerReport`, plus `ok` and `path`). */
export interface VerifyReport {
  /** Every line parsed and every chain verified. */
  ok: boolean
  path: string
  lines: number
  chains: LedgerChain[]
  malformed: { line: number; detail: string }[]
  /** The kept heads checked (present when `head` was given). */
  heads?: HeadCheck[]
}

/** The verdict on one kept chain head (core's `HeadCheck`). */
export interface HeadCheck {
  agent_id: string
  seq: number
  hash: string
  /** The chain has a link at `seq` whose hash is `hash`. */
  ok: boolean
  /** `truncated` (the chain ends before `seq`) or `rewritten` (another link stands there). */
  reason: string | null
  detail: string
}

/** What became of one receipt in {@link auditReceipts}. */
export type AuditStatus = 'ok' | 'pending' | 'missing' | 'altered' | 'proof_failed' | 'bad_checkpoint' | 'error'

/** A receipt that did not audit as ok. */
export interface AuditedEvent {
  id: string
  agent_id: string
  seq: number
  /** The link hash the receipt holds. */
  hash: string
  received_at: string
  status: AuditStatus
  detail: string
}

/** The log's latest checkpoint against the one saved by the previous audit. */
export interface LogCheck {
  origin: string
  /** `first`, `consistent`, `rollback`, `fork`, `bad_checkpoint` or `error`. */
  status: string
  saved_size: number | null
  saved_root: string | null
  size: number | null
  root: string | null
  detail: string
}

/** What {@link auditReceipts} found (core's `AuditReport`, plus `ok` and `unprovable`). */
export interface AuditReport {
  /** Nothing wrong and nothing left unasked (pending events allowed). */
  ok: boolean
  /** Some event, or the log itself, can no longer be proved. */
  unprovable: boolean
  receipts: number
  /** Receipts whose events are proved included (status `ok`). */
  proved: number
  pending: number
  missing: number
  altered: number
  proof_failed: number
  bad_checkpoint: number
  errors: number
  problems: AuditedEvent[]
  log: LogCheck[]
  receipts_path: string
}

/** The native client (core's `Client` behind napi). */
interface NativeClient {
  readonly agentId: string
  record(
    type: string,
    name: string | undefined,
    traceId: string | undefined,
    parentId: string | undefined,
    actorId: string | undefined,
    sessionId: string | undefined,
    inputsJson: string | undefined,
    inputs: unknown,
    outputsJson: string | undefined,
    outputs: unknown,
    latencyMs: number | undefined,
    attrsJson: string | undefined,
    attrs: unknown,
    messagesJson: string | undefined,
    messages: unknown,
    extra: native.EventExtra | undefined,
    validate?: boolean,
    redact?: string,
  ): string | null
  flush(timeoutMs?: number): Promise<DeliveryReport>
  shutdown(timeoutMs?: number): Promise<DeliveryReport>
  shutdownSync(timeoutMs?: number): DeliveryReport
  metrics(): Metrics
  ledgerHeads(): string[]
}

/**
 * A wrapped tool bound to one client: name, attrs and redaction override
 * are fixed, so a call passes only what changes, and names the tool by its
 * native slot (a number is cheaper to pass than an object to unwrap).
 */
class ToolBinding {
  /** Held while `slot` is used: the slot is freed when it is collected. */
  private native: native.Tool | null = null
  private client: NativeClient | null = null
  private slot = 0
  constructor(
    readonly name: string,
    readonly attrs: unknown,
    readonly redact: string | undefined,
  ) {}
  /** The native slot for client `c` (made again after `init` replaced the client). */
  for(c: NativeClient): number {
    if (this.client !== c || this.native === null) {
      this.native = new native.Tool(c as unknown as native.Client, this.name, enc(this.attrs), this.attrs, this.redact)
      this.slot = this.native.slot
      this.client = c
    }
    return this.slot
  }
}

/** The generated class, with the facade's precise types for what it returns as JSON. */
const NativeClientClass = native.Client as unknown as new (settings: string[][]) => NativeClient

/** camelCase option → core's setting name and text value. */
function settings(config: ClientOptions): string[][] {
  const out: string[][] = []
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined || v === null) continue
    out.push([k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase()), String(v)])
  }
  return out
}

/** Who the current work is for. */
export interface SessionInfo {
  actorId?: string
  sessionId?: string
}

export interface ToolOptions {
  /** Record the arguments as `inputs` (default true). */
  captureArgs?: boolean
  /** Record the return value as `outputs` (default true). */
  captureResult?: boolean
  /** Free JSON attributes added to each event of the call. */
  attrs?: Record<string, unknown>
  /**
   * Redaction override for this tool's events, applied by core on top of
   * the client's settings: a mode spec (`'email=off'`) or settings by name
   * (`{ mode: 'email=partial', sensitive_keys: ['pin'], ip: true }`).
   */
  redact?: string | Record<string, unknown>
}

export interface ToolDecoratorOptions extends ToolOptions {
  /** Tool name (default: the method name). */
  name?: string
}

/** Fields of an event recorded by hand with {@link record}. */
export interface RecordInput {
  type: EventType
  name?: string
  inputs?: unknown
  outputs?: unknown
  attrs?: Record<string, unknown>
  /** Prompt messages: hashed into `prompt_hash` (before redaction), stored under `inputs.messages` per `promptStorage`. */
  messages?: unknown
  decision?: { outcome: 'approved' | 'denied' | 'escalated'; by?: string; reason?: string }
  error?: { type: string; message: string; stack?: string }
  tokens?: { input?: number; output?: number }
  /** Decimal string, never a float: `"0.0123"`. */
  costUsd?: string
  latencyMs?: number
  /** Overrides the context's parent (default: the enclosing trace or tool call). */
  parentId?: string
  /** Fixed id / timestamp (tests and replays). */
  id?: string
  ts?: string
}

export interface ModelCallInput {
  model: string
  /** The prompt as sent: hashed by core before redaction, and recorded redacted. */
  messages?: unknown
  /** Model parameters (temperature, max_tokens, …), recorded as `inputs.params`. */
  params?: Record<string, unknown>
  outputs?: unknown
  tokens?: { input?: number; output?: number }
  costUsd?: string
  latencyMs?: number
  attrs?: Record<string, unknown>
}

export interface DecisionRecordInput {
  /** The action decided on, e.g. the tool name. */
  action: string
  outcome: 'approved' | 'denied' | 'escalated'
  by?: string
  reason?: string
  inputs?: unknown
  attrs?: Record<string, unknown>
}

export interface RedactResult<T = unknown> {
  /** The redacted value, as JSON. */
  value: T
  /** PII types found and their counts. */
  pii: Record<string, number>
}

/** An auditing failure reported by sealtrail; `code` is core's error kind. */
export interface SealtrailError extends Error {
  code: string
}

// ---------------------------------------------------------------- errors

function toSealtrailError(e: unknown): SealtrailError {
  const err = (e instanceof Error ? e : new Error(String(e))) as SealtrailError
  // Core errors arrive as "<kind>: <message>" (napi sets its own status as code).
  const m = /^([a-z_]+): /.exec(err.message)
  if (m) {
    err.code = m[1]
    err.message = err.message.slice(m[0].length)
  } else if (typeof err.code !== 'string') {
    err.code = 'internal'
  }
  return err
}

const warned = new Set<string>()
/** Auditing problems go to a warning, once per kind, never to the agent. */
function warnOnce(e: unknown): void {
  const err = toSealtrailError(e)
  if (warned.has(err.code)) return
  warned.add(err.code)
  try {
    process.emitWarning(`sealtrail: ${err.message} (further ${err.code} warnings suppressed)`, {
      code: `SEALTRAIL_${err.code.toUpperCase()}`,
    })
  } catch {
    /* a warning listener threw: nothing more to do */
  }
}

// ---------------------------------------------------------------- client

let client: NativeClient | null = null
let disabled = false
let exitTimeoutMs = 2000
/** The options of the last `init`, for {@link auditReceipts}. */
let initConfig: ClientOptions = {}

/**
 * Starts the client. Options override the `SEALTRAIL_*` environment; with
 * no endpoint, events go to the local ledger file. Calling `init` again
 * shuts the previous client down (its queue is flushed) and starts anew.
 * Throws (with `code`) only for invalid configuration.
 */
export function init(options: InitOptions = {}): void {
  const { installExitHooks = true, exitTimeoutMs: t, ...config } = options
  if (t !== undefined) exitTimeoutMs = t
  let next: NativeClient
  try {
    next = new NativeClientClass(settings(config))
  } catch (e) {
    throw toSealtrailError(e)
  }
  const prev = client
  client = next
  initConfig = config
  disabled = false
  if (prev) {
    try {
      prev.shutdownSync(exitTimeoutMs)
    } catch (e) {
      warnOnce(e)
    }
  }
  if (installExitHooks) installHooks()
}

/** The client, started from the environment on first use. */
function getClient(): NativeClient | null {
  if (client || disabled) return client
  try {
    client = new NativeClientClass([])
    installHooks()
  } catch (e) {
    disabled = true
    warnOnce(e)
  }
  return client
}

// ---------------------------------------------------------------- context

interface Ctx {
  actorId?: string
  sessionId?: string
  traceId?: string
  /** The id of the innermost trace or tool call: parent of new events. */
  parentId?: string
}

const EMPTY: Ctx = Object.freeze({})

/**
 * A wrapped tool's call whose `tool_call` event is not recorded yet. A
 * synchronous call records its `tool_call` and its end in one native call
 * once it returns. Anything recorded before that (inside the call: nested
 * tools, `record*`, `trace`; or a promise it returned) first records the
 * pending calls, outermost first, each with the time it started and the
 * arguments' text taken then, so events reach core in the order they
 * happened and events inside a call name it as their parent.
 */
class Pending {
  /** The `tool_call` was recorded (or could not be): `callId` and `outerCtx` are set. */
  recorded = false
  callId: string | null = null
  /** The context the call ran in (resolved when recorded). */
  outerCtx: Ctx = EMPTY
  /** The context of events under the call, made when first asked for (`ctxOf`). */
  ctx: Ctx | null = null
  constructor(
    readonly tool: ToolBinding,
    readonly outer: Ctx | Pending | undefined,
    /** The pending call this one runs inside, synchronously. */
    readonly prev: Pending | null,
    readonly argsJson: string | undefined,
    public t0: number,
  ) {}
}

const als = new AsyncLocalStorage<Ctx | Pending>()
/** The innermost wrapped call running synchronously now. */
let running: Pending | null = null

/** The context `store` stands for (records pending calls it depends on). */
function ctxOf(store: Ctx | Pending | undefined): Ctx {
  if (store === undefined) return EMPTY
  if (!(store instanceof Pending)) return store
  if (!store.recorded) {
    flushPending()
    if (!store.recorded) recordCall(store, undefined)
  }
  if (store.ctx === null) {
    const { outerCtx: outer, callId: id } = store
    // Outside a trace the call starts one (its id), as in the Python binding.
    store.ctx = id === null ? outer : { ...outer, traceId: outer.traceId ?? id, parentId: id }
  }
  return store.ctx
}

/** The current context; pending calls it depends on are recorded first. */
function currentCtx(): Ctx {
  return ctxOf(als.getStore())
}

/** Records every pending call that is running now, outermost first. */
function flushPending(): void {
  if (running === null || running.recorded) return
  const chain: Pending[] = []
  for (let p: Pending | null = running; p !== null && !p.recorded; p = p.prev) chain.push(p)
  for (let i = chain.length - 1; i >= 0; i--) recordCall(chain[i], undefined)
}

function settle(p: Pending, outer: Ctx, id: string | null): void {
  p.recorded = true
  p.callId = id
  p.outerCtx = outer
}

/** Records `p`'s `tool_call` now (with the time it started); `inputs` when its arguments need the native walker. */
function recordCall(p: Pending, inputs: unknown): void {
  const outer = ctxOf(p.outer)
  let id: string | null = null
  const c = getClient()
  if (c) {
    try {
      id = native.toolCall(p.tool.for(c), outer.actorId, outer.sessionId, outer.traceId, outer.parentId, now() - p.t0, p.argsJson, inputs)
    } catch (e) {
      warnOnce(e)
    }
  }
  settle(p, outer, id)
}

/** Records the end of call `p`: with its `tool_call` in one native call when that is still pending. */
function recordEnd(p: Pending, result: unknown, error: native.ErrorInput | undefined, captureResult: boolean): void {
  const elapsed = now() - p.t0
  const c = getClient()
  if (!c) return
  try {
    const out = error === undefined && captureResult ? result : undefined
    const outJson = enc(out)
    if (!p.recorded) {
      flushPending()
      const o = ctxOf(p.outer)
      const id = native.toolDone(p.tool.for(c), o.actorId, o.sessionId, o.traceId, o.parentId, elapsed, p.argsJson, outJson, outJson === undefined ? out : undefined, error)
      settle(p, o, id)
    } else if (p.callId !== null) {
      const o = p.outerCtx
      native.toolEnd(p.tool.for(c), o.actorId, o.sessionId, o.traceId, p.callId, elapsed, outJson, outJson === undefined ? out : undefined, error)
    }
  } catch (e) {
    warnOnce(e)
    if (!p.recorded) settle(p, ctxOf(p.outer), null)
  }
}

/**
 * Runs `fn` with `actorId` / `sessionId` attached to every event recorded
 * inside it, including across `await` and concurrent promises. A field left
 * out keeps the enclosing value; with no enclosing session a new session id
 * is made (as in the Python binding).
 */
export function session<R>(info: SessionInfo, fn: () => R): R {
  const outer = currentCtx()
  const ctx: Ctx = {
    ...outer,
    actorId: info.actorId ?? outer.actorId,
    sessionId: info.sessionId ?? outer.sessionId ?? native.newId(),
  }
  if (ctx.actorId === undefined) delete ctx.actorId
  return als.run(ctx, fn)
}

/**
 * Runs `fn` as a named unit of work: records a `custom` event named `name`
 * (attrs `{"sealtrail.trace": "start"}`) whose id becomes the `trace_id`
 * (outermost trace) and the `parent_id` of everything recorded inside.
 */
export function trace<R>(name: string, fn: () => R, attrs?: Record<string, unknown>): R {
  const outer = currentCtx()
  const a = { 'sealtrail.trace': 'start', ...attrs }
  const span = emit('custom', name, outer, undefined, undefined, a, undefined) ?? native.newId()
  return als.run({ ...outer, traceId: outer.traceId ?? span, parentId: span }, fn)
}

/** The current `trace_id`, `parent_id`, `actor_id` and `session_id`. */
export function currentContext(): Readonly<Ctx> {
  return { ...currentCtx() }
}

// ---------------------------------------------------------------- recording

/**
 * `JSON.stringify` text when it carries the value exactly: the fast path for
 * plain data, parsed on core's worker. Undefined when it throws (cycles,
 * BigInt) or lost data, and the native walker then converts the value
 * itself.
 */
function enc(v: unknown): string | undefined {
  if (v === undefined) return undefined
  let s: string | undefined
  try {
    s = JSON.stringify(v)
  } catch {
    return undefined
  }
  return s === undefined || lossy(s) ? undefined : s
}

/**
 * Markers in `JSON.stringify` output that mean it lost data the walker
 * keeps: `{}` (Map, Set, ArrayBuffer), a Buffer's `toJSON`, a typed array's
 * index keys; or that core's parser refuses: `\udXXX`, a lone surrogate
 * (the walker writes U+FFFD). Plain data with an empty object (or such
 * text inside a string) just takes the slower path.
 */
function lossy(s: string): boolean {
  if (s.includes('\\ud')) return true
  for (let i = s.indexOf('{'); i !== -1; i = s.indexOf('{', i + 1)) {
    const c = s.charCodeAt(i + 1)
    if (c === 125 /* } */) return true
    if (c === 34 /* " */ && (s.startsWith('0":', i + 2) || s.startsWith('type":"Buffer","data":[', i + 2))) return true
  }
  return false
}

function emit(
  type: EventType,
  name: string | undefined,
  ctx: Ctx,
  inputs: unknown,
  outputs: unknown,
  attrs: unknown,
  extra: native.EventExtra | undefined,
  parentId: string | undefined = ctx.parentId,
  messages?: unknown,
  latencyMs?: number,
  validate = false,
): string | null {
  const c = getClient()
  if (!c) return null
  // Calls running now come first, in the order they started.
  if (running !== null) flushPending()
  try {
    return c.record(
      type,
      name,
      ctx.traceId,
      parentId,
      ctx.actorId,
      ctx.sessionId,
      enc(inputs),
      inputs,
      enc(outputs),
      outputs,
      latencyMs,
      enc(attrs),
      attrs,
      enc(messages),
      messages,
      extra,
      validate,
    )
  } catch (e) {
    warnOnce(e)
    return null
  }
}

/** Records one event of any type. Returns its id, or null if it was not recorded. */
export function record(input: RecordInput): string | null {
  try {
    const ctx = currentCtx()
    const rare =
      input.id !== undefined ||
      input.ts !== undefined ||
      input.decision !== undefined ||
      input.error !== undefined ||
      input.tokens !== undefined ||
      input.costUsd !== undefined
    // Reading an object across napi costs about a microsecond: skip it when empty.
    const extra: native.EventExtra | undefined = rare
      ? {
          id: input.id,
          ts: input.ts,
          decision: input.decision,
          error: input.error,
          tokens: input.tokens,
          costUsd: input.costUsd === undefined ? undefined : String(input.costUsd),
        }
      : undefined
    return emit(
      input.type,
      input.name,
      ctx,
      input.inputs,
      input.outputs,
      input.attrs,
      extra,
      input.parentId ?? ctx.parentId,
      input.messages,
      input.latencyMs,
      true,
    )
  } catch (e) {
    warnOnce(e)
    return null
  }
}

/** Records the user's request (`request`). */
export function recordRequest(inputs: unknown, attrs?: Record<string, unknown>): string | null {
  return record({ type: 'request', inputs, attrs })
}

/** Records the agent's answer (`response`). */
export function recordResponse(outputs: unknown, attrs?: Record<string, unknown>): string | null {
  return record({ type: 'response', outputs, attrs })
}

/**
 * Records a model call (`model_call`): `prompt_hash` is computed by core
 * from `messages` before redaction; `inputs` holds the redacted `messages`
 * and `params` (the same shape as the Python binding).
 */
export function recordModelCall(call: ModelCallInput): string | null {
  // Core hashes `messages` and stores them under `inputs.messages` as the
  // client's `promptStorage` says.
  return record({
    type: 'model_call',
    name: call.model,
    messages: call.messages,
    inputs: call.params === undefined ? undefined : { params: call.params },
    outputs: call.outputs,
    tokens: call.tokens,
    costUsd: call.costUsd,
    latencyMs: call.latencyMs,
    attrs: call.attrs,
  })
}

/** Records a human or policy decision about a side-effecting action (`decision`). */
export function recordDecision(d: DecisionRecordInput): string | null {
  return record({
    type: 'decision',
    name: d.action,
    decision: { outcome: d.outcome, by: d.by, reason: d.reason },
    inputs: d.inputs,
    attrs: d.attrs,
  })
}

// ---------------------------------------------------------------- tools

function errorInfo(e: unknown): native.ErrorInput {
  try {
    if (e instanceof Error) {
      return { type: e.name || 'Error', message: String(e.message), stack: e.stack }
    }
    return { type: typeof e, message: String(e) }
  } catch {
    return { type: typeof e, message: '[unprintable]' }
  }
}

const now = (): number => performance.now()

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    x !== null &&
    (typeof x === 'object' || typeof x === 'function') &&
    typeof (x as { then?: unknown }).then === 'function'
  )
}

/**
 * Wraps a tool so each call records `tool_call` (its arguments), then
 * `tool_result` (return value, latency) or `error` (redacted stack) — and
 * returns or throws exactly what the tool did. Works for sync and async
 * functions; the wrapper has the tool's own type.
 *
 * `inputs` is the argument list as a JSON array.
 */
export function wrapTool<F extends (...args: never[]) => unknown>(
  name: string,
  fn: F,
  options: ToolOptions = {},
): F {
  const captureArgs = options.captureArgs !== false
  const captureResult = options.captureResult !== false
  const attrs = options.attrs
  // Fixed per tool: name, attrs and the override go to native once, not per call.
  const redact = options.redact === undefined ? undefined : typeof options.redact === 'string' ? options.redact : JSON.stringify(options.redact)
  if (redact !== undefined) {
    try {
      native.checkRedactOverride(redact)
    } catch (e) {
      throw toSealtrailError(e)
    }
  }
  const spec = new ToolBinding(name, attrs, redact)
  const wrapped = function (this: unknown, ...args: unknown[]): unknown {
    if (getClient() === null) return fn.apply(this, args as never[])
    // The arguments as they are now: the tool may change them.
    const argsJson = captureArgs ? enc(args) : undefined
    const p = new Pending(spec, als.getStore(), running, argsJson, now())
    if (captureArgs && argsJson === undefined) {
      // Values only the native walker converts: recorded now, before the tool runs.
      flushPending()
      recordCall(p, args)
      p.t0 = now()
    }
    running = p
    let result: unknown
    try {
      result = als.run(p, Reflect.apply, fn, this, args) as unknown
    } catch (e) {
      running = p.prev
      recordEnd(p, undefined, errorInfo(e), captureResult)
      throw e
    }
    running = p.prev
    if (isThenable(result)) {
      // The promise's callbacks may record under the call: record it now.
      if (!p.recorded) {
        flushPending()
        recordCall(p, undefined)
      }
      return Promise.resolve(result).then(
        (r) => {
          recordEnd(p, r, undefined, captureResult)
          return r
        },
        (e: unknown) => {
          recordEnd(p, undefined, errorInfo(e), captureResult)
          throw e
        },
      )
    }
    recordEnd(p, result, undefined, captureResult)
    return result
  }
  try {
    Object.defineProperty(wrapped, 'name', { value: fn.name || name })
    Object.defineProperty(wrapped, 'length', { value: fn.length })
  } catch {
    /* non-configurable: keep the wrapper's own */
  }
  return wrapped as unknown as F
}

/**
 * TypeScript 5 standard decorator for class methods:
 *
 * ```ts
 * class Billing {
 *   @tool() async refund(orderId: string, amount: number) { … }
 * }
 * ```
 */
export function tool(options: ToolDecoratorOptions = {}) {
  return function <This, A extends unknown[], R>(
    target: (this: This, ...args: A) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: A) => R>,
  ): (this: This, ...args: A) => R {
    const name = options.name ?? String(context.name)
    return wrapTool(name, target, options)
  }
}

// ---------------------------------------------------------------- utilities

/**
 * Redacts a value with core's redactor (the same rules as recording) and
 * returns the redacted JSON and the PII found.
 */
export function redact<T = unknown>(value: unknown): RedactResult<T> {
  try {
    return native.redact(enc(value), value) as RedactResult<T>
  } catch (e) {
    throw toSealtrailError(e)
  }
}

/**
 * Verifies a local ledger file (default: the configured ledger path).
 * `head`: chain heads kept from before ({@link ledgerHeads}), each
 * `'AGENT:SEQ:HASH'` (or `'SEQ:HASH'` for a ledger of one agent); each chain
 * must still reach that seq with that link hash, else `heads` in the report
 * says `truncated` or `rewritten`.
 */
export async function verifyLedger(path?: string, options: { head?: string | string[] } = {}): Promise<VerifyReport> {
  const head = options.head === undefined ? undefined : ([] as string[]).concat(options.head)
  try {
    return (await native.verifyLedgerFile(path, head)) as unknown as VerifyReport
  } catch (e) {
    throw toSealtrailError(e)
  }
}

/**
 * The head of every chain of the local ledger this process writes, as
 * `'AGENT:SEQ:HASH'`, once what is queued is written (flushes first). Keep
 * them where the ledger's owner cannot edit them and pass them to
 * `verifyLedger(path, { head })`. Empty when events go to a server (its
 * receipts, {@link auditReceipts}, play that part).
 */
export async function ledgerHeads(): Promise<string[]> {
  const c = getClient()
  if (!c) return []
  try {
    await c.flush(5000)
    return c.ledgerHeads()
  } catch (e) {
    warnOnce(e)
    return []
  }
}

/**
 * Checks that the server can still prove every event it acknowledged to
 * this agent: each receipt kept in `<spoolDir>/receipts.jsonl` is looked up
 * in the server's transparency log, its inclusion proof checked against a
 * checkpoint signed by the log key (`logKey` / `SEALTRAIL_LOG_KEY`), and
 * the log's latest checkpoint checked to extend the one saved by the
 * previous audit. Runs off the JavaScript thread. Options: as `init`
 * (by default those given to `init`, then the environment). Rejects (with
 * `code`) without an endpoint, API key or log key, or when the server
 * cannot be asked at all.
 */
export async function auditReceipts(options: ClientOptions = {}): Promise<AuditReport> {
  try {
    const report = await native.auditReceiptsTask(settings({ ...initConfig, ...options }))
    return report as unknown as AuditReport
  } catch (e) {
    throw toSealtrailError(e)
  }
}

function noReport(complete = true): DeliveryReport {
  return { complete, delivered: 0, spooled: 0, dropped: 0, rejected: 0, ledger_written: 0, queued: 0 }
}

/**
 * Waits (off the JavaScript thread) until every event recorded so far is
 * delivered, written to the ledger or spooled, or `timeoutMs` passes; what
 * is still in memory then is spooled. `complete` says whether it drained.
 */
export async function flush(timeoutMs = 5000): Promise<DeliveryReport> {
  const c = getClient()
  if (!c) return noReport()
  try {
    return await c.flush(timeoutMs)
  } catch (e) {
    warnOnce(e)
    return noReport(false)
  }
}

/** Flushes and stops the client; later events start a new one from the environment. */
export async function shutdown(timeoutMs = 5000): Promise<DeliveryReport> {
  const c = client
  if (!c) return noReport()
  client = null
  try {
    return await c.shutdown(timeoutMs)
  } catch (e) {
    warnOnce(e)
    return noReport(false)
  }
}

/** Counters of the running client (recorded, dropped, sent, spooled, …). */
export function metrics(): Metrics | null {
  const c = getClient()
  if (!c) return null
  try {
    return c.metrics()
  } catch (e) {
    warnOnce(e)
    return null
  }
}

/** The sealed canonical form of one event (cross-language checks, tests). */
export function sealEvent(agentId: string, input: RecordInput & { actorId?: string; sessionId?: string; traceId?: string }): native.Sealed {
  try {
    return native.sealEvent(
      agentId,
      input.type,
      input.name,
      input.traceId,
      input.parentId,
      input.actorId,
      input.sessionId,
      input.inputs,
      input.outputs,
      input.attrs,
      input.messages,
      {
        id: input.id,
        ts: input.ts,
        decision: input.decision,
        error: input.error,
        tokens: input.tokens,
        costUsd: input.costUsd,
        latencyMs: input.latencyMs,
      },
    )
  } catch (e) {
    throw toSealtrailError(e)
  }
}

/** RFC 8785 canonical JSON of a value, after the package's value conversion. */
export const canonicalJson: (value: unknown) => string = native.canonicalJson
/** SHA-256 (hex) of the canonical prompt. */
export const promptHash: (messages: unknown) => string = native.promptHash
/** The package version. */
export const version: () => string = native.version

// ---------------------------------------------------------------- process hooks

let hooksInstalled = false
let lastFlushedRecorded = -1

function onBeforeExit(): void {
  const c = client
  if (!c) return
  let m: Metrics
  try {
    m = c.metrics()
  } catch {
    return
  }
  // beforeExit fires again after our flush settles: flush only when new
  // events arrived since, so the loop ends.
  if (m.recorded === lastFlushedRecorded) return
  lastFlushedRecorded = m.recorded
  c.flush(exitTimeoutMs).catch(warnOnce)
}

function onExit(): void {
  // process.exit() skips beforeExit: drain synchronously, bounded.
  const c = client
  if (!c) return
  try {
    c.shutdownSync(exitTimeoutMs)
  } catch {
    /* exiting anyway */
  }
}

function onSignal(signal: NodeJS.Signals): void {
  const others = process.listenerCount(signal) > 1
  const c = client
  if (others) {
    // Someone else decides what the signal means; just get the queue out.
    if (c) c.flush(exitTimeoutMs).catch(warnOnce)
    return
  }
  if (c) {
    try {
      c.shutdownSync(exitTimeoutMs)
    } catch {
      /* dying anyway */
    }
  }
  // Re-raise with the default disposition: the process ends as it would have.
  process.removeListener(signal, onSignal)
  process.kill(process.pid, signal)
}

function installHooks(): void {
  if (hooksInstalled) return
  hooksInstalled = true
  process.on('beforeExit', onBeforeExit)
  process.on('exit', onExit)
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
}
