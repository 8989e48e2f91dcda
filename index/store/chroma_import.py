"""Import chromadb without its import-time override checks or its gRPC exporter.

chromadb decorates ~170 methods with ``overrides.override``, which at class
creation parses the caller's bytecode to find the base classes and compares
signatures (``inspect.signature`` of both methods): a development-time lint
that changes nothing at run time. On the 2-core target it is 0.4-0.5 s of the
1.3 s ``import chromadb`` (medians of 3 alternating runs, 2026-12-03:
1.30-1.39 s vs 1.69-1.97 s), paid by every ``citebot ask`` and ``index add``.

While chromadb's modules load, ``override`` is swapped for a decorator that
only sets the ``__override__`` flag (what ``EnforceOverrides`` classes look
for), then put back, so nothing imported later is affected. If the
``overrides`` package ever changes shape, the import simply runs unpatched.

chromadb's telemetry module also imports OpenTelemetry's OTLP gRPC span
exporter at import time (grpc and protobuf: 0.18-0.23 s here, 3 runs), which
it only instantiates when ``chroma_otel_collection_endpoint`` is set; citebot
never sets it. While chromadb loads, that module name maps to a stand-in whose
``OTLPSpanExporter`` imports the real exporter when first called; the name is
freed afterwards, so a later ``import`` gets the real module.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

_NAMES = ("override", "overrides")
_OTLP = "opentelemetry.exporter.otlp.proto.grpc.trace_exporter"


def _mark(method: Any = None, **_options: Any) -> Any:
    """``@override`` / ``@override(...)`` without the checks: flag the method, return it."""

    def flag(target: Any) -> Any:
        with contextlib.suppress(AttributeError, TypeError):
            target.__override__ = True
        return target

    return flag if method is None else flag(method)


@contextlib.contextmanager
def without_override_checks() -> Iterator[None]:
    """Run a block (importing chromadb, opening its client) with ``override`` unchecked."""
    try:
        import overrides
        import overrides.overrides as impl
    except ImportError:
        yield
        return
    modules: tuple[ModuleType, ...] = (overrides, impl)
    saved: list[tuple[ModuleType, str, Callable[..., Any]]] = [
        (module, name, getattr(module, name))
        for module in modules
        for name in _NAMES
        if callable(getattr(module, name, None))
    ]
    for module, name, _ in saved:
        setattr(module, name, _mark)
    try:
        yield
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _real_otlp_exporter(*args: Any, **kwargs: Any) -> Any:
    """``OTLPSpanExporter(...)`` from the real module, imported now."""
    if getattr(sys.modules.get(_OTLP), "__citebot_stand_in__", False):
        del sys.modules[_OTLP]
    return importlib.import_module(_OTLP).OTLPSpanExporter(*args, **kwargs)


@contextlib.contextmanager
def without_otlp_import() -> Iterator[None]:
    """Run a block (importing chromadb) with the OTLP gRPC exporter's import deferred."""
    if _OTLP in sys.modules:
        yield
        return
    stand_in = ModuleType(_OTLP, "stand-in until an OTLP endpoint is configured (citebot)")
    stand_in.__citebot_stand_in__ = True  # type: ignore[attr-defined]
    stand_in.OTLPSpanExporter = _real_otlp_exporter  # type: ignore[attr-defined]
    sys.modules[_OTLP] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(_OTLP) is stand_in:
            del sys.modules[_OTLP]


@contextlib.contextmanager
def lean_chromadb_import() -> Iterator[None]:
    """Both of the above, for the block that first imports chromadb."""
    with without_override_checks(), without_otlp_import():
        yield
