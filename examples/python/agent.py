"""A scripted support agent (no LLM needed) audited by sealtrail.

Three tools: `lookup_order` and `check_refund_policy` read; `issue_refund`
changes something, so it runs only after an approval that is itself
recorded (`record_decision`). A fake "model" picks the tools, and its calls
are recorded with `record_model_call` (prompt hash, tokens, cost).

    pip install .                       # from the repository root
    python examples/python/agent.py     # events go to ./sealtrail-ledger.jsonl
    python examples/python/agent.py --capture   # in-memory, prints the events

With SEALTRAIL_ENDPOINT and SEALTRAIL_API_KEY set, the same script ships the
events to a sealtrail server instead (and spools them if it is away).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from decimal import Decimal
from typing import Dict, List

import sealtrail

ORDERS: Dict[str, dict] = {
    "A-1001": {"customer": "bob@example.com", "total": Decimal("42.50"), "status": "lost in transit"},
    "A-1002": {"customer": "carol@example.com", "total": Decimal("980.00"), "status": "delivered"},
}
REFUND_LIMIT = Decimal("100.00")


@dataclass
class Policy:
    refundable: bool
    needs_human: bool
    reason: str


@sealtrail.tool
def lookup_order(order_id: str) -> dict:
    """Reads an order (no side effect)."""
    if order_id not in ORDERS:
        raise KeyError(f"no order {order_id}")
    return ORDERS[order_id]


@sealtrail.tool
def check_refund_policy(order: dict) -> Policy:
    """Decides whether a refund is allowed and who must approve it."""
    if order["status"] == "delivered":
        return Policy(False, True, "delivered orders go to a human")
    return Policy(True, order["total"] > REFUND_LIMIT, "not delivered")


@sealtrail.tool(side_effect=True)
def issue_refund(order_id: str, amount: Decimal) -> dict:
    """Moves money: only ever called after a recorded approval."""
    return {"order_id": order_id, "refunded": amount, "ref": "rf_" + order_id.lower()}


def approve(order_id: str, policy: Policy) -> bool:
    """The approval gate: a policy auto-approves small refunds; anything
    else is escalated to a human (here: refused, nobody is on call)."""
    if policy.refundable and not policy.needs_human:
        sealtrail.record_decision("approved", action="issue_refund", by="policy:refund-limit",
                                  reason=f"under {REFUND_LIMIT} USD", inputs={"order_id": order_id})
        return True
    outcome = "escalated" if policy.refundable else "denied"
    sealtrail.record_decision(outcome, action="issue_refund", by="policy:refund-limit",
                              reason=policy.reason, inputs={"order_id": order_id})
    return False


def fake_model(messages: List[dict]) -> str:
    """Stands in for an LLM: finds the order id in the last message."""
    words = messages[-1]["content"].replace("?", " ").split()
    order_id = next((w for w in words if w.startswith("A-")), "")
    sealtrail.record_model_call("scripted-model-1", messages, {"temperature": 0},
                                tokens=(sum(len(m["content"]) for m in messages) // 4, 12),
                                cost_usd=Decimal("0.0004"))
    return order_id


def handle(user: str, text: str) -> str:
    with sealtrail.session(actor_id=user):
        with sealtrail.trace("support-turn"):
            sealtrail.record_request(text)
            messages = [{"role": "system", "content": "You are a support agent."},
                        {"role": "user", "content": text}]
            order_id = fake_model(messages)
            try:
                order = lookup_order(order_id)
            except KeyError:
                answer = "I could not find that order."
            else:
                policy = check_refund_policy(order)
                if approve(order_id, policy):
                    r = issue_refund(order_id, order["total"])
                    answer = f"Refunded {r['refunded']} USD (ref {r['ref']})."
                else:
                    answer = "A colleague will look at your refund request."
            sealtrail.record_response(answer)
            return answer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--capture", action="store_true", help="keep events in memory and print them")
    ap.add_argument("--agent-id", default=None, help="default: SEALTRAIL_AGENT_ID or core's default")
    a = ap.parse_args()
    opts = {"agent_id": a.agent_id} if a.agent_id else {}
    if a.capture:
        sealtrail.init(capture=True, **opts)
    elif opts:
        sealtrail.init(**opts)

    for user, text in [("bob@example.com", "My order A-1001 never arrived, can I get a refund?"),
                       ("carol@example.com", "Refund A-1002 please?"),
                       ("dave@example.com", "Where is A-9999?")]:
        print(f"{user}: {text}\n  agent: {handle(user, text)}")

    if a.capture:
        for e in sealtrail._state.client.take_captured():
            print(json.dumps(e, default=str))
        return 0
    report = sealtrail.flush(10)
    print(f"flush: {report}  metrics: {sealtrail.metrics()}")
    cfg = sealtrail._state.client
    ledger = getattr(cfg, "ledger_path", None) if cfg is not None else None
    if ledger:
        print(f"verify {ledger}: {sealtrail.verify_ledger(ledger)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
