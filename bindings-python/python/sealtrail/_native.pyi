"""Type stubs of the native module ``sealtrail._native`` (Rust, pyo3).
Users import ``sealtrail``; this module is private."""

from typing import Union, Any, Dict, List, Mapping, Optional, Sequence, Tuple

Ctx = Tuple[Optional[str], Optional[str], Optional[str], Optional[str]]

def version() -> str: ...
def to_json(value: object) -> str:
    """The JSON that ``value`` becomes in an event, RFC 8785 canonical form."""
def prompt_hash(messages: object) -> str:
    """SHA-256 (hex) of the RFC 8785 form of ``messages`` (before redaction)."""
def new_id() -> str:
    """A new ULID, monotonic within the process."""
def build_event(
    kind: str,
    agent_id: str,
    ctx: Optional[Ctx] = None,
    *,
    name: Optional[str] = None,
    inputs: object = None,
    outputs: object = None,
    decision: Optional[Mapping[str, Any]] = None,
    error: Optional[Mapping[str, Any]] = None,
    tokens: object = None,
    cost_usd: object = None,
    latency_ms: Optional[int] = None,
    prompt_hash: Optional[str] = None,
    attrs: Optional[Mapping[str, Any]] = None,
) -> str:
    """The canonical JSON of the event ``record`` would build (validated)."""
def verify_ledger(
    path: Optional[str] = None, head: Union[str, Sequence[str], None] = None
) -> Dict[str, Any]: ...
def audit_receipts(**options: Any) -> Dict[str, Any]: ...

class SealtrailError(Exception):
    kind: str
class InvalidEventError(SealtrailError): ...
class TooLargeError(SealtrailError): ...
class ConfigError(SealtrailError): ...
class SealtrailIOError(SealtrailError): ...
class HashMismatchError(SealtrailError): ...

class ToolSpec:
    def __init__(
        self,
        name: str,
        params: Sequence[str],
        *,
        varargs: Optional[str] = None,
        skip_first: bool = False,
        capture_args: bool = True,
        capture_result: bool = True,
        side_effect: bool = False,
        redact: Union[str, Mapping[str, Any], None] = None,
    ) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def side_effect(self) -> bool: ...
    @property
    def redact(self) -> Optional[str]: ...

class Client:
    def __init__(
        self,
        *,
        capture: bool = False,
        agent_id: Optional[str] = None,
        prompt_storage: Optional[str] = None,
        **options: Any,
    ) -> None: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def ledger_path(self) -> Optional[str]: ...
    @property
    def endpoint(self) -> Optional[str]: ...
    def record(
        self,
        kind: str,
        ctx: Optional[Ctx] = None,
        *,
        name: Optional[str] = None,
        inputs: object = None,
        outputs: object = None,
        decision: Optional[Mapping[str, Any]] = None,
        error: Optional[Mapping[str, Any]] = None,
        tokens: object = None,
        cost_usd: object = None,
        latency_ms: Optional[int] = None,
        attrs: Optional[Mapping[str, Any]] = None,
    ) -> str: ...
    def model_call(
        self,
        ctx: Optional[Ctx],
        model: str,
        messages: object,
        *,
        params: Optional[Mapping[str, Any]] = None,
        tokens: object = None,
        cost_usd: object = None,
        outputs: object = None,
        latency_ms: Optional[int] = None,
        attrs: Optional[Mapping[str, Any]] = None,
    ) -> str: ...
    def tool_call(
        self, spec: ToolSpec, ctx: Optional[Ctx], args: Tuple[Any, ...], kwargs: Optional[Dict[str, Any]] = None
    ) -> Ctx: ...
    def tool_result(self, spec: ToolSpec, child: Ctx, result: object, latency_ns: int) -> None: ...
    def tool_error(
        self, spec: ToolSpec, child: Ctx, exc_type: str, message: str, stack: Optional[str], latency_ns: int
    ) -> None: ...
    def redact(self, text: str) -> str: ...
    def flush(self, timeout: float = 5.0) -> Dict[str, Any]: ...
    def shutdown(self, timeout: float = 5.0) -> Dict[str, Any]: ...
    def metrics(self) -> Dict[str, Any]: ...
    def take_captured(self) -> List[Dict[str, Any]]: ...
    def ledger_heads(self) -> List[str]: ...
    def _abandon(self) -> None: ...
