// Type preservation: compiled by `tsc` (strict) before the tests run; every
// `@ts-expect-error` must be an error, so a wrapper that widened a type to
// `any` fails the build. Also exercises the TS 5 standard decorator at run
// time (typed.test.mjs runs the emitted file).
import * as st from '../../dist/index'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const assertType = <T extends true>(_: T): void => undefined

// sync: parameters and return type survive
const add = st.wrapTool('add', (a: number, b: number): number => a + b)
assertType<Equal<typeof add, (a: number, b: number) => number>>(true)
const n: number = add(1, 2)
// @ts-expect-error wrong argument type
add('1', 2)
// @ts-expect-error the result is not a string
const s: string = add(1, 2)

// async: Promise<T> survives
const fetchUser = st.wrapTool('fetchUser', async (id: string) => ({ id, name: 'x' }))
assertType<Equal<ReturnType<typeof fetchUser>, Promise<{ id: string; name: string }>>>(true)
// @ts-expect-error missing argument
void fetchUser()

// generics survive
const first = st.wrapTool('first', <T>(xs: T[]): T | undefined => xs[0])
const f1: string | undefined = first(['a'])
// @ts-expect-error T is inferred per call
const f2: number | undefined = first(['a'])

// context helpers return the callback's type
const r1: Promise<number> = st.session({ actorId: 'u' }, async () => 1)
const r2: string = st.trace('t', () => 'x')
// @ts-expect-error unknown option
st.session({ actor: 'u' }, () => 1)

// record* inputs are typed
st.recordDecision({ action: 'refund', outcome: 'denied' })
// @ts-expect-error not an outcome
st.recordDecision({ action: 'refund', outcome: 'maybe' })
// @ts-expect-error not an event type
st.record({ type: 'launch' })
const flushed: Promise<st.DeliveryReport> = st.flush()
const m = st.metrics()
if (m) {
  const rec: number = m.recorded
  void rec
}

// decorator: method type preserved, `this` bound
class Billing {
  rate = 2
  @st.tool()
  charge(amount: number): number {
    return amount * this.rate
  }
  @st.tool({ name: 'billing.refund', captureResult: false })
  async refund(orderId: string): Promise<{ orderId: string; ok: boolean }> {
    return { orderId, ok: true }
  }
}
const b = new Billing()
const c: number = b.charge(3)
// @ts-expect-error decorated method keeps its parameter types
b.charge('3')
const rf: Promise<{ orderId: string; ok: boolean }> = b.refund('o-1')

export async function run(): Promise<{ charge: number; refund: { orderId: string; ok: boolean } }> {
  void n, s, f1, f2, r1, r2, flushed
  return { charge: c, refund: await rf }
}
