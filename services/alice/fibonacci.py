"""Fibonacci and golden-ratio configuration from Alice's seed plans (DESIGN §5).

Every number the seed documents name lives here, with environment overrides under the seed's own variable
names (``FIB_CACHE_TTLS_H``, ``FIB_RETRY_DELAYS``, ...). Values are validated when loaded: a malformed list
stops start-up with a message that names the variable (see :func:`load_fibonacci_config`).

The mechanisms built on these numbers are measured against plain baselines in ``alice bench``; nothing here
claims an effect.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from alice.errors import ConfigError

GOLDEN_RATIO: float = (1 + math.sqrt(5)) / 2
PHI = GOLDEN_RATIO
PHI_INVERSE: float = 1 / GOLDEN_RATIO  # ≈ 0.618
PHI_INVERSE_COMPLEMENT: float = 1 - PHI_INVERSE  # ≈ 0.382
GOLDEN_ANGLE_RAD: float = math.pi * (3 - math.sqrt(5))


def fibonacci_progression(n: int, start: tuple[int, int] = (1, 1)) -> list[int]:
    """The first ``n`` Fibonacci numbers starting from ``start`` (1, 1, 2, 3, 5, ...)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    a, b = start
    out: list[int] = []
    for _ in range(n):
        out.append(a)
        a, b = b, a + b
    return out


FIBONACCI_SEQUENCE: tuple[int, ...] = tuple(fibonacci_progression(22))  # 1, 1, 2, ..., 17711

ROUTING_WEIGHTS: dict[str, int] = {
    "micro": 1,
    "planner": 2,
    "deep": 3,
    "hybrid": 5,
    "orchestrated": 8,
    "enterprise": 13,
    "cluster": 21,
    "distributed": 34,
    "massive": 55,
}

GOLDEN_THRESHOLDS: dict[str, float] = {
    "low": PHI_INVERSE_COMPLEMENT,  # 0.382
    "medium": PHI_INVERSE,  # 0.618
    "high": GOLDEN_RATIO,  # 1.618
    "critical": GOLDEN_RATIO + 1,  # 2.618
}

# Latency histogram buckets in milliseconds: 1, 2, 3, 5, ..., 987 and on for LLM routes.
LATENCY_BUCKETS_MS: tuple[int, ...] = tuple(sorted(set(FIBONACCI_SEQUENCE[1:20])))  # 1 .. 6765


def _split_list(value: Any, cast: type) -> Any:
    if isinstance(value, str):
        parts = [p.strip() for p in value.replace(";", ",").split(",") if p.strip()]
        try:
            return [cast(p) for p in parts]
        except ValueError as exc:
            raise ValueError(f"expected a comma-separated list of numbers, got {value!r}") from exc
    return value


IntList = Annotated[list[int], NoDecode]
FloatList = Annotated[list[float], NoDecode]


class FibonacciConfig(BaseSettings):
    """The seed plans' numbers, overridable from the environment under the seed's names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    fib_cache_ttls_h: IntList = Field(default=[1, 2, 3, 5, 8, 13, 21, 34, 55, 89])
    fib_retry_delays: FloatList = Field(default=[1, 1, 2, 3, 5, 8])
    fib_retry_max_attempts: int = Field(default=8, ge=1, le=100)
    fib_breaker_open_s: FloatList = Field(default=[1, 2, 3, 5, 8, 13])
    fib_timeout_phases: FloatList = Field(default=[1, 2, 5, 8])
    fib_rag_topk_steps: IntList = Field(default=[1, 2, 3, 5])
    fib_router_max_tool_calls: IntList = Field(default=[1, 2, 3])
    fib_router_micro_budget_ms: IntList = Field(default=[13, 21, 34])
    fib_router_planner_timeout_ms: int = Field(default=800, gt=0)
    fib_alert_p95_warning_ms: float = Field(default=144, gt=0)
    fib_alert_p95_critical_ms: float = Field(default=377, gt=0)
    fib_error_escalation_per_hour: IntList = Field(default=[3, 5, 8])
    fib_spiral_points: int = Field(default=89, ge=1, le=100_000)
    fib_spiral_dimensions: int = Field(default=2, ge=2, le=3)
    fib_scaler_cooldown_up_s: float = Field(default=180, gt=0)
    fib_scaler_cooldown_down_s: float = Field(default=480, gt=0)
    fib_scaler_cooldown_emergency_s: float = Field(default=60, gt=0)
    # The utilisation the Fibonacci scaler aims at: up above φ × it, down below φ⁻¹ × it, emergency at φ² × it.
    fib_scaler_target_utilisation: float = Field(default=PHI_INVERSE**2, gt=0, le=1)
    fib_scaler_window_s: float = Field(default=60, ge=10, le=900)
    fib_scaler_min_samples: int = Field(default=21, ge=1, le=100_000)
    fib_scaler_min_replicas: int = Field(default=1, ge=1, le=17711)
    fib_scaler_max_replicas: int = Field(default=89, ge=1, le=17711)
    enable_phi_load_balancer: bool = False
    phi_primary_weight: float = Field(default=GOLDEN_RATIO, gt=0)
    phi_secondary_weight: float = Field(default=PHI_INVERSE, gt=0)

    @field_validator(
        "fib_cache_ttls_h",
        "fib_rag_topk_steps",
        "fib_router_max_tool_calls",
        "fib_router_micro_budget_ms",
        "fib_error_escalation_per_hour",
        mode="before",
    )
    @classmethod
    def _ints(cls, value: Any) -> Any:
        return _split_list(value, int)

    @field_validator("fib_retry_delays", "fib_breaker_open_s", "fib_timeout_phases", mode="before")
    @classmethod
    def _floats(cls, value: Any) -> Any:
        return _split_list(value, float)

    @field_validator(
        "fib_cache_ttls_h",
        "fib_retry_delays",
        "fib_breaker_open_s",
        "fib_timeout_phases",
        "fib_rag_topk_steps",
        "fib_router_max_tool_calls",
        "fib_router_micro_budget_ms",
        "fib_error_escalation_per_hour",
    )
    @classmethod
    def _positive_non_decreasing(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("must hold at least one number")
        if any(v <= 0 for v in value):
            raise ValueError("every number must be > 0")
        if any(b < a for a, b in zip(value, value[1:], strict=False)):
            raise ValueError("numbers must not decrease")
        return value

    @model_validator(mode="after")
    def _scaler_bounds(self) -> FibonacciConfig:
        if self.fib_scaler_min_replicas > self.fib_scaler_max_replicas:
            raise ValueError("FIB_SCALER_MIN_REPLICAS must not exceed FIB_SCALER_MAX_REPLICAS")
        return self


def load_fibonacci_config(**overrides: Any) -> FibonacciConfig:
    """Load and validate the configuration; raise :class:`ConfigError` naming the bad variable."""
    try:
        return FibonacciConfig(**overrides)
    except ValidationError as exc:
        named = ((".".join(str(p) for p in err["loc"]).upper(), err["msg"]) for err in exc.errors())
        problems = "; ".join(f"{name}: {msg}" if name else msg for name, msg in named)
        raise ConfigError(f"invalid Fibonacci configuration: {problems}") from None


@lru_cache(maxsize=1)
def config() -> FibonacciConfig:
    """The process-wide configuration, read from the environment once."""
    return load_fibonacci_config()


def _at(seq: list[Any] | tuple[Any, ...], index: int) -> Any:
    """Element ``index`` of ``seq``, clamped to its ends."""
    return seq[max(0, min(index, len(seq) - 1))]


def get_fibonacci_weight(route: str) -> int:
    """Routing weight of a route or tier name (micro 1, planner 2, deep 3, hybrid 5, ...)."""
    try:
        return ROUTING_WEIGHTS[route]
    except KeyError:
        raise ValueError(f"unknown route {route!r}; known: {', '.join(ROUTING_WEIGHTS)}") from None


def get_cache_ttl(tier: int, cfg: FibonacciConfig | None = None) -> int:
    """TTL in seconds of cache tier ``tier`` (1-based: L1 = 1 h ... L10 = 89 h), clamped to the tiers."""
    ttls = (cfg or config()).fib_cache_ttls_h
    return int(_at(ttls, tier - 1) * 3600)


def get_retry_backoff(attempt: int, cfg: FibonacciConfig | None = None) -> float:
    """Delay in seconds before retry ``attempt`` (1-based: 1, 1, 2, 3, 5, 8, 8, ...)."""
    return float(_at((cfg or config()).fib_retry_delays, attempt - 1))


def get_breaker_open_time(trips: int, cfg: FibonacciConfig | None = None) -> float:
    """Seconds a breaker stays open after its ``trips``-th consecutive trip (1, 2, 3, 5, 8, 13, 13, ...)."""
    return float(_at((cfg or config()).fib_breaker_open_s, trips - 1))


def get_memory_window(level: int) -> int:
    """Number of conversation turns kept at memory level ``level`` (1-based Fibonacci: 1, 2, 3, 5, 8, ...)."""
    if level < 1:
        raise ValueError("level must be >= 1")
    return FIBONACCI_SEQUENCE[min(level, len(FIBONACCI_SEQUENCE) - 1)]


def calculate_golden_ratio_threshold(base: float, level: str = "medium") -> float:
    """``base`` scaled by the golden-ratio factor of ``level`` (low 0.382, medium 0.618, high φ, critical φ+1)."""
    try:
        return base * GOLDEN_THRESHOLDS[level]
    except KeyError:
        raise ValueError(f"unknown level {level!r}; known: {', '.join(GOLDEN_THRESHOLDS)}") from None


def get_optimal_resource_allocation(total: float, parts: int) -> list[float]:
    """Split ``total`` over ``parts`` shares with weights φ⁰, φ⁻¹, φ⁻², ... (largest first); sums to total."""
    if parts < 1:
        raise ValueError("parts must be >= 1")
    weights = [PHI_INVERSE**i for i in range(parts)]
    scale = total / sum(weights)
    return [w * scale for w in weights]


def get_fibonacci_scaling_sequence(minimum: int = 1, maximum: int = 89) -> list[int]:
    """Distinct Fibonacci replica counts in ``[minimum, maximum]`` (1, 2, 3, 5, 8, ...)."""
    if minimum < 1 or maximum < minimum:
        raise ValueError("need 1 <= minimum <= maximum")
    return sorted({f for f in FIBONACCI_SEQUENCE if minimum <= f <= maximum})


def scaling_thresholds(target: float) -> tuple[float, float]:
    """(scale-up, scale-down) load levels for a ``target`` load: above φ × target, below φ⁻¹ × target."""
    return target * GOLDEN_RATIO, target * PHI_INVERSE


def next_replica_count(current: int, direction: int, maximum: int = 89) -> int:
    """The next replica count along the Fibonacci steps (1, 2, 3, 5, 8, ...) up (+1) or down (-1)."""
    steps = get_fibonacci_scaling_sequence(1, max(1, maximum))
    if direction > 0:
        return next((s for s in steps if s > current), steps[-1])
    if direction < 0:
        return next((s for s in reversed(steps) if s < current), steps[0])
    return current


def phi_weights(n: int, cfg: FibonacciConfig | None = None) -> list[float]:
    """Load-balancer weights for ``n`` backends: primary φ, secondary φ⁻¹, then φ⁻², φ⁻³, ..."""
    c = cfg or config()
    base = [c.phi_primary_weight, c.phi_secondary_weight]
    return [base[i] if i < 2 else PHI_INVERSE**i for i in range(n)]


def golden_angle_lattice(points: int) -> list[tuple[float, float]]:
    """``points`` unit-disc points on a golden-angle (Fibonacci/Vogel) spiral: (radius, angle)."""
    return [(math.sqrt((i + 0.5) / points), (i * GOLDEN_ANGLE_RAD) % (2 * math.pi)) for i in range(points)]
