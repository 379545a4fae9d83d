"""The guardian's policy pipeline: small steps that each admit, refuse or amend one request.

A request passes two phases. *Admission* steps see only the method, path and headers and run before the
body is read (authentication and the admin role now; rate limits and brownout later), so a refused caller
costs no body read. *Content* steps run on the read body (the chat schema, a JSON object for the small
routes, PII redaction, tool gates; injection blocking later). A step refuses by raising a
:class:`~alice.errors.ServiceError`; it amends by changing the :class:`GuardRequest` (a redaction step
replaces ``body``, a tool gate sets ``tools``). The forwarder sends ``body`` and signs ``claims()``, so
whatever the steps decided is what the orchestrator receives.

No FastAPI here: steps are tested as plain objects.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pydantic_core
import structlog
import yaml

from alice.errors import (
    ConfigError,
    ForbiddenError,
    NotFoundError,
    PolicyDeniedError,
    UnauthenticatedError,
    ValidationFailedError,
)
from alice.signing import Claims
from guardian.chat import ChatRequest, parse_chat
from guardian.keys import KeyRecord, KeyStore
from guardian.pii import PRIORITY, TOKEN_WORDS, Redactor
from guardian.verdicts import VerdictCache

log = structlog.get_logger("guardian.policy")

AUTH_CHALLENGE = 'Bearer realm="alice"'
AUTH_CHALLENGE_INVALID = 'Bearer realm="alice", error="invalid_token"'
ADMIN_ROLE = "admin"
#: ``/api/monitoring/<name>``: a lower-case word, so nothing odd (``..``, spaces) is signed and forwarded; and the
#: other admin views (the load balancer, the scaler's recommendations).
MONITORING_PATH = re.compile(
    r"/api/(?:monitoring/[a-z][a-z0-9_-]{0,63}|orchestrator/load-balancer|scaling/recommendations)"
)
DRAFT_PATH = re.compile(r"/api/drafts/[A-Za-z0-9_-]{8,64}")
#: ``/api/memory`` and one session of it: plain session ids only.
MEMORY_PATH = re.compile(r"/api/memory(?:/sessions/[A-Za-z0-9._:-]{1,128})?")


@dataclass
class GuardRequest:
    """One request on its way through the pipeline; headers are keyed in lower case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    key: KeyRecord | None = None
    chat: ChatRequest | None = None
    tools: tuple[str, ...] = field(default_factory=tuple)
    #: Kinds and counts of personal data found in the message (never the values).
    pii: dict[str, int] = field(default_factory=dict)
    #: The injection rule or classifier that flagged the message (shadow mode lets it through).
    injection: str | None = None
    #: The guardian's load state signed into the claims (``brownout`` sheds the expensive routes).
    load: str = "normal"
    #: Headers the client gets with the answer (the rate limit's).
    response_headers: dict[str, str] = field(default_factory=dict)

    def claims(self) -> Claims:
        """What the signature tells the orchestrator about the caller (only after authentication)."""
        if self.key is None:
            raise UnauthenticatedError("Request was not authenticated.")
        return Claims(tenant=self.key.tenant, role=self.key.role, key_id=self.key.id, tools=self.tools, load=self.load)


class PolicyStep(Protocol):
    """One check; raises a ServiceError to refuse, changes the request to amend it."""

    async def __call__(self, request: GuardRequest) -> None: ...


@dataclass(frozen=True)
class Pipeline:
    """The steps for one route, in order."""

    admission: Sequence[PolicyStep] = ()
    content: Sequence[PolicyStep] = ()

    async def admit(self, request: GuardRequest) -> None:
        """Run the header-only steps."""
        for step in self.admission:
            await step(request)

    async def inspect(self, request: GuardRequest) -> None:
        """Run the steps that need the body."""
        for step in self.content:
            await step(request)


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer <key>``, else from ``X-API-Key``; None when neither is sent."""
    authorization = headers.get("authorization", "").strip()
    if authorization:
        scheme, _, token = authorization.partition(" ")
        # Another scheme (Basic, ...) is not an Alice key: it fails as malformed, not as missing.
        return token.strip() if scheme.lower() == "bearer" else authorization
    api_key = headers.get("x-api-key", "").strip()
    return api_key or None


class Authenticate:
    """Admission: the caller must present an active API key. Binds tenant and key id for the log line."""

    def __init__(self, store: KeyStore, on_reject: Callable[[str], None] = lambda _reason: None) -> None:
        self.store = store
        self.on_reject = on_reject

    async def __call__(self, request: GuardRequest) -> None:
        result = self.store.check(presented_key(request.headers))
        if result.record is None:
            self.on_reject(result.reason)
            structlog.contextvars.bind_contextvars(auth_failure=result.reason)
            if result.reason == "missing":
                raise UnauthenticatedError(
                    "Missing API key: send 'Authorization: Bearer <key>'.",
                    headers={"WWW-Authenticate": AUTH_CHALLENGE},
                )
            raise UnauthenticatedError(
                "Invalid or revoked API key.", headers={"WWW-Authenticate": AUTH_CHALLENGE_INVALID}
            )
        request.key = result.record
        structlog.contextvars.bind_contextvars(tenant=result.record.tenant, key_id=result.record.id)


class ValidateChat:
    """Content: the body must be a valid :class:`ChatRequest`."""

    def __init__(self, max_message_chars: int) -> None:
        self.max_message_chars = max_message_chars

    async def __call__(self, request: GuardRequest) -> None:
        request.chat = parse_chat(request.body, self.max_message_chars)


ALL_TOOLS = "*"


def parse_tool_grants(spec: str) -> dict[str, tuple[str, ...]]:
    """Tool grants by role from ``"user=*;admin=*"`` or ``"user=time.now,math.calculate;admin=*"``."""
    grants: dict[str, tuple[str, ...]] = {}
    for part in (p.strip() for p in spec.split(";") if p.strip()):
        role, sep, tools = part.partition("=")
        if not sep or not role.strip():
            raise ValueError(f"tool grant {part!r} must look like 'user=time.now,math.calculate' or 'admin=*'")
        grants[role.strip()] = tuple(t.strip() for t in tools.split(",") if t.strip())
    return grants


def load_tool_policy(path: Path) -> dict[str, tuple[str, ...]]:
    """Tool grants by role from a YAML policy file::

        roles:
          user: [time.now, date.today, math.calculate, weather.lookup]
          admin: ["*"]

    A role not named runs no tool. :class:`ConfigError` (start-up stops) when the file is missing or malformed."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"tool policy {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"tool policy {path}: not YAML ({exc})") from None
    roles = doc.get("roles") if isinstance(doc, dict) else None
    if not isinstance(roles, dict) or not roles:
        raise ConfigError(f"tool policy {path}: needs a 'roles' mapping of role to a list of tools")
    grants: dict[str, tuple[str, ...]] = {}
    for role, tools in roles.items():
        if not isinstance(role, str) or not isinstance(tools, list) or not all(isinstance(t, str) for t in tools):
            raise ConfigError(f"tool policy {path}: role {role!r} must map to a list of tool names")
        grants[role] = tuple(t.strip() for t in tools if t.strip())
    return grants


class GrantTools:
    """Content, after :class:`Authenticate`: the tools the caller's role may run (signed into the claims; the
    orchestrator refuses any other with 403 ``tool_denied``). ``*`` grants every tool; a role not named gets
    none."""

    def __init__(self, grants: dict[str, tuple[str, ...]]) -> None:
        self.grants = grants

    async def __call__(self, request: GuardRequest) -> None:
        if request.key is None:
            raise UnauthenticatedError("Request was not authenticated.")
        request.tools = self.grants.get(request.key.role, ())


class RequireRole:
    """Admission, after :class:`Authenticate`: the key must have ``role``; any other key gets 403 forbidden."""

    def __init__(self, role: str, on_reject: Callable[[str], None] = lambda _reason: None) -> None:
        self.role = role
        self.on_reject = on_reject

    async def __call__(self, request: GuardRequest) -> None:
        if request.key is None:
            raise UnauthenticatedError("Request was not authenticated.")
        if request.key.role != self.role:
            self.on_reject("role")
            structlog.contextvars.bind_contextvars(auth_failure="role")
            raise ForbiddenError(f"This route needs an API key with the {self.role} role.")


class MatchPath:
    """Admission: the path (without its query) must match ``pattern``; anything else is 404 not_found."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern

    async def __call__(self, request: GuardRequest) -> None:
        if self.pattern.fullmatch(request.path.split("?", 1)[0]) is None:
            raise NotFoundError("No such resource.")


class ValidateJsonObject:
    """Content: the body must be one JSON object (its fields are the orchestrator's to validate).

    ``allow_empty`` lets an empty body through unchanged, for routes whose body is optional.
    """

    def __init__(self, *, allow_empty: bool = False) -> None:
        self.allow_empty = allow_empty

    async def __call__(self, request: GuardRequest) -> None:
        if self.allow_empty and not request.body.strip():
            return
        try:
            parsed = pydantic_core.from_json(request.body, allow_inf_nan=False)  # nesting is bounded
        except ValueError as exc:
            raise _invalid_body(f"Invalid JSON: {exc}") from None
        if not isinstance(parsed, dict):
            raise _invalid_body("must be a JSON object")


def _invalid_body(msg: str) -> ValidationFailedError:
    return ValidationFailedError(f"body: {msg}", extra={"errors": [{"loc": "body", "msg": msg}]})


PII_MODES = ("redact", "block", "off")


def parse_pii_modes(spec: str) -> dict[str, str]:
    """Per-tenant PII modes from ``"acme=block,dev=off"`` (tenants not named use the default mode)."""
    modes: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        tenant, sep, mode = part.partition("=")
        if not sep or not tenant.strip() or mode.strip() not in PII_MODES:
            raise ConfigError(f"pii tenant modes: {part!r} is not tenant=redact|block|off")
        modes[tenant.strip()] = mode.strip()
    return modes


def parse_pii_kinds(spec: str) -> tuple[str, ...]:
    """The kinds of personal data to protect from ``"PERSONNUMMER,IBAN"`` (case-insensitive)."""
    kinds = tuple(k.strip().upper() for k in spec.split(",") if k.strip())
    unknown = [k for k in kinds if k not in PRIORITY]
    if unknown:
        raise ConfigError(f"pii kinds: {', '.join(unknown)} unknown; known: {', '.join(PRIORITY)}")
    return kinds


class InjectionBlockedError(PolicyDeniedError):
    code, title = "injection_blocked", "Prompt injection refused"


INJECTION_MODES = ("block", "shadow", "off")


class ScreenInjection:
    """Content: a chat message that looks like a prompt injection (``guardian.injection``: rules, then the
    classifier at ``threshold``) is refused with 403 ``injection_blocked`` and a reason code (``block``), only
    logged and counted (``shadow``), or not screened (``off``)."""

    def __init__(
        self,
        screen: Callable[[str, float], Any],
        threshold: float,
        mode: str = "block",
        on_verdict: Callable[[str, str], None] = lambda _outcome, _reason: None,
        verdicts: VerdictCache[Any] | None = None,
        on_lookup: Callable[[bool], None] = lambda _hit: None,
    ) -> None:
        if mode not in INJECTION_MODES:
            raise ConfigError(f"injection mode {mode!r} is not one of {', '.join(INJECTION_MODES)}")
        self.screen = screen
        self.threshold = threshold
        self.mode = mode
        self.on_verdict = on_verdict
        self.verdicts = verdicts if verdicts is not None else VerdictCache(0)
        self.on_lookup = on_lookup

    async def _verdict(self, message: str) -> Any:
        """The screening of ``message``: remembered for a repeat, else computed off the event loop (the second
        look embeds the message: ~20 ms of C code that releases the GIL)."""
        if self.verdicts.max_entries == 0:
            return await asyncio.to_thread(self.screen, message, self.threshold)
        key = self.verdicts.key(message, self.threshold)
        verdict = self.verdicts.get(key)
        self.on_lookup(verdict is not None)
        if verdict is None:
            verdict = await asyncio.to_thread(self.screen, message, self.threshold)
            self.verdicts.put(key, verdict)
        return verdict

    async def __call__(self, request: GuardRequest) -> None:
        if request.chat is None or self.mode == "off":
            return
        verdict = await self._verdict(request.chat.message)
        if not verdict.attack:
            return
        request.injection = verdict.reason
        if self.mode == "shadow":
            log.warning("injection_shadow", reason=verdict.reason, score=round(verdict.score, 3))
            self.on_verdict("shadow", verdict.reason)
            return
        self.on_verdict("blocked", verdict.reason)
        raise InjectionBlockedError(
            "The message looks like an attempt to override Alice's instructions, so it was not sent on.",
            extra={"reason": verdict.reason},
        )


class PiiBlockedError(PolicyDeniedError):
    code, title = "pii_blocked", "Personal data not accepted"


class ProtectPii:
    """Content: personal data in the chat message is replaced by tokens (``redact``), refused with 403
    ``pii_blocked`` (``block``), or left alone (``off``), by the caller's tenant. Runs after the schema check,
    so the orchestrator (cache keys, logs, the LLM) only ever sees the redacted text."""

    def __init__(
        self,
        default_mode: str = "redact",
        tenant_modes: Mapping[str, str] | None = None,
        region: str = "SE",
        on_found: Callable[[str, str, int], None] = lambda _kind, _action, _n: None,
        kinds: Sequence[str] = PRIORITY,
    ) -> None:
        if default_mode not in PII_MODES:
            raise ConfigError(f"pii mode {default_mode!r} is not one of {', '.join(PII_MODES)}")
        self.default_mode = default_mode
        self.tenant_modes = dict(tenant_modes or {})
        self.region = region
        self.on_found = on_found
        self.kinds = tuple(kinds)

    def mode(self, tenant: str) -> str:
        return self.tenant_modes.get(tenant, self.default_mode)

    async def __call__(self, request: GuardRequest) -> None:
        if request.chat is None or request.key is None:
            return
        mode = self.mode(request.key.tenant)
        if mode == "off":
            return
        redactor = Redactor(self.region, self.kinds)
        redacted = redactor.redact(request.chat.message)
        counts = redactor.counts()
        if not counts:
            return
        action = "blocked" if mode == "block" else "redacted"
        for kind, n in counts.items():
            self.on_found(kind, action, n)
        request.pii = counts
        if mode == "block":
            kinds = ", ".join(TOKEN_WORDS[k].lower() for k in sorted(counts))
            raise PiiBlockedError(
                f"The message contains personal data ({kinds}); this tenant does not accept it. "
                "Remove it and send the message again.",
                extra={"reason": "pii", "kinds": sorted(counts)},
            )
        request.chat = request.chat.model_copy(update={"message": redacted})
        request.body = request.chat.model_dump_json(exclude_unset=True).encode()


def chat_pipeline(
    store: KeyStore,
    max_message_chars: int,
    on_reject: Callable[[str], None],
    tool_grants: dict[str, tuple[str, ...]] | None = None,
    pii: ProtectPii | None = None,
    limits: Sequence[PolicyStep] = (),
    injection: ScreenInjection | None = None,
) -> Pipeline:
    """``POST /api/chat``: authenticate, the rate ``limits``, validate the chat body, screen for injection,
    protect personal data, grant the role's tools."""
    everything: dict[str, tuple[str, ...]] = {"user": (ALL_TOOLS,), "admin": (ALL_TOOLS,)}
    grants = tool_grants if tool_grants is not None else everything
    screening: tuple[PolicyStep, ...] = (injection,) if injection is not None else ()
    content: tuple[PolicyStep, ...] = (
        ValidateChat(max_message_chars),
        *screening,
        pii or ProtectPii(),
        GrantTools(grants),
    )
    return Pipeline(admission=(Authenticate(store, on_reject), *limits), content=content)


def status_pipeline(store: KeyStore, on_reject: Callable[[str], None]) -> Pipeline:
    """``GET /api/status``: authenticate only."""
    return Pipeline(admission=(Authenticate(store, on_reject),))


def feedback_pipeline(store: KeyStore, on_reject: Callable[[str], None]) -> Pipeline:
    """``POST /api/feedback``: any authenticated caller; the body must be a JSON object."""
    return Pipeline(admission=(Authenticate(store, on_reject),), content=(ValidateJsonObject(),))


def monitoring_pipeline(store: KeyStore, on_reject: Callable[[str], None]) -> Pipeline:
    """``GET /api/monitoring/<name>``: admins only, and only plain names."""
    return Pipeline(
        admission=(Authenticate(store, on_reject), RequireRole(ADMIN_ROLE, on_reject), MatchPath(MONITORING_PATH))
    )


def drafts_pipeline(store: KeyStore, on_reject: Callable[[str], None]) -> Pipeline:
    """``GET /api/drafts/<id>``: any authenticated caller (the orchestrator serves only the tenant's own)."""
    return Pipeline(admission=(Authenticate(store, on_reject), MatchPath(DRAFT_PATH)))


def memory_pipeline(store: KeyStore, on_reject: Callable[[str], None]) -> Pipeline:
    """``GET`` / ``DELETE /api/memory[/sessions/<id>]``: any authenticated caller (the orchestrator serves and
    deletes only the caller's own)."""
    return Pipeline(admission=(Authenticate(store, on_reject), MatchPath(MEMORY_PATH)))


def admin_write_pipeline(
    store: KeyStore, on_reject: Callable[[str], None], *, allow_empty_body: bool = False
) -> Pipeline:
    """``POST /api/cache/*``: admins only; the body must be a JSON object (or empty, when allowed)."""
    return Pipeline(
        admission=(Authenticate(store, on_reject), RequireRole(ADMIN_ROLE, on_reject)),
        content=(ValidateJsonObject(allow_empty=allow_empty_body),),
    )
