// ESM entry point. It re-exports the CommonJS build rather than shipping a
// second copy, so that `import` and `require` in one process share one
// client and one AsyncLocalStorage (no dual-package hazard).
import { createRequire } from 'node:module'

const sealtrail = createRequire(import.meta.url)('./dist/index.js')

export const {
  init,
  wrapTool,
  tool,
  session,
  trace,
  currentContext,
  record,
  recordRequest,
  recordModelCall,
  recordResponse,
  recordDecision,
  redact,
  verifyLedger,
  ledgerHeads,
  auditReceipts,
  flush,
  shutdown,
  metrics,
  sealEvent,
  canonicalJson,
  promptHash,
  version,
} = sealtrail
export default sealtrail
