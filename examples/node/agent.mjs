// A scripted support agent (no LLM needed) audited by sealtrail: the same
// script as examples/python/agent.py.
//
// Three tools: lookupOrder and checkRefundPolicy read; issueRefund changes
// something, so it runs only after an approval that is itself recorded
// (recordDecision). A fake "model" picks the tools, and its calls are
// recorded with recordModelCall (prompt hash, tokens, cost).
//
//   npm install && npm run build          # from the repository root
//   node examples/node/agent.mjs          # events go to ./sealtrail-ledger.jsonl
//
// With SEALTRAIL_ENDPOINT and SEALTRAIL_API_KEY set, the same script ships
// the events to a sealtrail server instead (and spools them if it is away).
import * as sealtrail from '../../bindings-node/index.mjs'

const ORDERS = {
  'A-1001': { customer: 'bob@example.com', total: '42.50', status: 'lost in transit' },
  'A-1002': { customer: 'carol@example.com', total: '980.00', status: 'delivered' },
}
const REFUND_LIMIT = 100

class NotFound extends Error {
  name = 'NotFound'
}

// Reads an order (no side effect).
const lookupOrder = sealtrail.wrapTool('lookup_order', async (orderId) => {
  if (!(orderId in ORDERS)) throw new NotFound(`no order ${orderId}`)
  return ORDERS[orderId]
})

// Decides whether a refund is allowed and who must approve it.
const checkRefundPolicy = sealtrail.wrapTool('check_refund_policy', (order) => {
  if (order.status === 'delivered') return { refundable: false, needsHuman: true, reason: 'delivered orders go to a human' }
  return { refundable: true, needsHuman: Number(order.total) > REFUND_LIMIT, reason: 'not delivered' }
})

// Moves money: only ever called after a recorded approval.
const issueRefund = sealtrail.wrapTool('issue_refund', async (orderId, amount) => ({
  order_id: orderId,
  refunded: amount,
  ref: 'rf_' + orderId.toLowerCase(),
}))

// The approval gate: a policy auto-approves small refunds; anything else is
// escalated to a human (here: refused, nobody is on call).
function approve(orderId, policy) {
  if (policy.refundable && !policy.needsHuman) {
    sealtrail.recordDecision({ action: 'issue_refund', outcome: 'approved', by: 'policy:refund-limit', reason: `under ${REFUND_LIMIT} USD`, inputs: { order_id: orderId } })
    return true
  }
  const outcome = policy.refundable ? 'escalated' : 'denied'
  sealtrail.recordDecision({ action: 'issue_refund', outcome, by: 'policy:refund-limit', reason: policy.reason, inputs: { order_id: orderId } })
  return false
}

// Stands in for an LLM: finds the order id in the last message.
function fakeModel(messages) {
  const words = messages.at(-1).content.replaceAll('?', ' ').split(/\s+/)
  const orderId = words.find((w) => w.startsWith('A-')) ?? ''
  const chars = messages.reduce((n, m) => n + m.content.length, 0)
  sealtrail.recordModelCall({ model: 'scripted-model-1', messages, params: { temperature: 0 }, tokens: { input: Math.floor(chars / 4), output: 12 }, costUsd: '0.0004' })
  return orderId
}

async function handle(user, text) {
  return sealtrail.session({ actorId: user }, () =>
    sealtrail.trace('support-turn', async () => {
      sealtrail.recordRequest(text)
      const messages = [
        { role: 'system', content: 'You are a support agent.' },
        { role: 'user', content: text },
      ]
      const orderId = fakeModel(messages)
      let answer
      try {
        const order = await lookupOrder(orderId)
        const policy = checkRefundPolicy(order)
        if (approve(orderId, policy)) {
          const r = await issueRefund(orderId, order.total)
          answer = `Refunded ${r.refunded} USD (ref ${r.ref}).`
        } else {
          answer = 'A colleague will look at your refund request.'
        }
      } catch (e) {
        if (!(e instanceof NotFound)) throw e
        answer = 'I could not find that order.'
      }
      sealtrail.recordResponse(answer)
      return answer
    }),
  )
}

const agentId = process.argv.includes('--agent-id') ? process.argv[process.argv.indexOf('--agent-id') + 1] : undefined
if (agentId) sealtrail.init({ agentId })

for (const [user, text] of [
  ['bob@example.com', 'My order A-1001 never arrived, can I get a refund?'],
  ['carol@example.com', 'Refund A-1002 please?'],
  ['dave@example.com', 'Where is A-9999?'],
]) {
  console.log(`${user}: ${text}\n  agent: ${await handle(user, text)}`)
}

console.log(`flush: ${JSON.stringify(await sealtrail.flush(10000))}\nmetrics: ${JSON.stringify(sealtrail.metrics())}`)
if (!process.env.SEALTRAIL_ENDPOINT) {
  const path = process.env.SEALTRAIL_LEDGER_PATH ?? 'sealtrail-ledger.jsonl'
  console.log(`verify ${path}: ${JSON.stringify(await sealtrail.verifyLedger(path).catch((e) => ({ error: e.code, detail: e.message })))}`)
}
