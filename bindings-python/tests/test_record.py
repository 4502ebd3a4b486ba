"""record_* helpers: fields, prompt hash, validation errors."""

import decimal

import pytest

import sealtrail
from sealtrail import _native


def test_record_request_response_decision(events):
    rid = sealtrail.record_request("where is my order?")
    sealtrail.record_response("shipped")
    sealtrail.record_decision("approved", action="issue_refund", by="alice@ops", reason="ok")
    req, resp, dec = events()
    assert req["id"] == rid and req["type"] == "request" and req["inputs"] == "where is my order?"
    assert resp["outputs"] == "shipped"
    assert dec["decision"] == {"outcome": "approved", "by": "alice@ops", "reason": "ok"}
    assert dec["name"] == "issue_refund"


def test_model_call_prompt_hash_before_redaction(events):
    msgs = [{"role": "user", "content": "my email is bob@example.com"}]
    sealtrail.record_model_call("gpt-x", msgs, {"temperature": 0}, tokens=(10, 2),
                                cost_usd=decimal.Decimal("1E-5"))
    (e,) = events()
    assert e["prompt_hash"] == sealtrail.prompt_hash(msgs)
    assert e["prompt_hash"] == sealtrail.prompt_hash([{"content": "my email is bob@example.com",
                                                        "role": "user"}])
    assert e["tokens"] == {"input": 10, "output": 2}
    assert e["cost_usd"] == "0.00001"
    assert e["inputs"] == {"messages": msgs, "params": {"temperature": 0}}
    assert e["name"] == "gpt-x"


def test_prompt_storage_none():
    sealtrail.init(capture=True, prompt_storage="none")
    try:
        sealtrail.record_model_call("m", [{"role": "user", "content": "x"}], tokens={"input": 1})
        (e,) = sealtrail._state.client.take_captured()
        assert "inputs" not in e and len(e["prompt_hash"]) == 64
    finally:
        sealtrail.shutdown()
        sealtrail._state._closed = False


def test_bad_prompt_storage_is_config_error():
    with pytest.raises(sealtrail.ConfigError):
        sealtrail.init(capture=True, prompt_storage="sometimes")


def test_misuse_raises_sealtrail_errors(events):
    with pytest.raises(sealtrail.InvalidEventError) as info:
        sealtrail.record("launch")
    assert info.value.kind == "invalid_event"
    with pytest.raises(sealtrail.InvalidEventError):
        sealtrail.record_decision("maybe")
    with pytest.raises(sealtrail.SealtrailError):
        sealtrail.record("custom", cost_usd="-1")
    with pytest.raises(sealtrail.InvalidEventError):
        sealtrail.record("custom", attrs=[1])
    assert issubclass(sealtrail.InvalidEventError, sealtrail.SealtrailError)
    assert events() == []


def test_cost_forms(events):
    for c, want in [("0.5", "0.5"), (3, "3"), (0.1, "0.1"), (decimal.Decimal("2.50"), "2.50")]:
        sealtrail.record("custom", cost_usd=c)
        (e,) = events()
        assert e["cost_usd"] == want


def test_build_event_is_canonical():
    out = _native.build_event("custom", "a", ("u", None, "t", "p"), name="n", attrs={"b": 1, "a": 2})
    assert '"attrs":{"a":2,"b":1}' in out and '"trace_id":"t"' in out and '"actor_id":"u"' in out


def test_after_shutdown_records_are_ignored(events):
    @sealtrail.tool
    def f():
        return 1

    sealtrail.shutdown()
    assert f() == 1  # the agent keeps working
    assert sealtrail.record("custom") is None
    assert sealtrail.record_decision("approved") is None


def test_redaction_before_anything_is_written(tmp_path):
    """The ledger (like the spool and the wire) never holds a clear value."""
    import json
    import sealtrail

    ledger = tmp_path / "ledger.jsonl"
    sealtrail.init(agent_id="redaction-test", ledger_path=str(ledger))
    try:
        @sealtrail.tool
        def send_mail(to: str, body: str) -> str:
            return f"sent to {to}"

        send_mail("jane.doe@example.com", "card 4111 1111 1111 1111, call +1 415 555 2671")
        sealtrail.flush(5)
        assert sealtrail.redact("mail bob@example.com") == "mail [EMAIL]"
    finally:
        sealtrail.shutdown(5)
    text = ledger.read_text()
    for clear in ["jane.doe@example.com", "4111 1111", "555 2671"]:
        assert clear not in text, text
    call = json.loads(text.splitlines()[0])["event"]
    assert call["pii"]["email"] == 1 and call["pii"]["card"] == 1 and call["pii"]["phone"] == 1, call
    assert sealtrail.verify_ledger(str(ledger))["ok"]
