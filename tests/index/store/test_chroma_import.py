"""chromadb imported without its override lint and its gRPC exporter: works, and leaves
``overrides`` and the exporter's module as they were."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import overrides
import pytest
from overrides import EnforceOverrides

from citebot.index.store.chroma_import import without_override_checks


def test_override_is_restored_after_the_block_even_when_it_raises() -> None:
    original = overrides.override
    with pytest.raises(RuntimeError), without_override_checks():
        assert overrides.override is not original
        raise RuntimeError("boom")
    assert overrides.override is original


def test_flagged_methods_still_satisfy_enforce_overrides() -> None:
    with without_override_checks():

        class Base(EnforceOverrides):
            def run(self, x: int) -> int:
                return x

        class Child(Base):
            @overrides.override
            def run(self, x: int) -> int:
                return x + 1

        class Other(Base):
            @overrides.override(check_signature=False)
            def run(self, x: int) -> int:
                return x + 2

    assert Child().run(1) == 2
    assert Other().run(1) == 3
    with pytest.raises(TypeError):  # the metaclass check itself is untouched

        class Unmarked(Base):
            def run(self, x: int) -> int:
                return x


def test_a_new_process_opens_and_queries_chroma_through_the_factory(tmp_path: Path) -> None:
    """The real import path: chromadb loaded under the patch, then used for real."""
    script = (
        "import sys, overrides\n"
        "from citebot.index.settings import Settings\n"
        "from citebot.index.store.chroma_client import make_chroma_client\n"
        "before = overrides.override\n"
        "client = make_chroma_client(Settings(data_dir=sys.argv[1]))\n"
        "col = client.get_or_create_collection('probe', embedding_function=None)\n"
        "col.add(ids=['a', 'b'], embeddings=[[1.0, 0.0], [0.0, 1.0]])\n"
        "hit = col.query(query_embeddings=[[0.9, 0.1]], n_results=1)['ids'][0][0]\n"
        "print(hit, overrides.override is before, 'chromadb.api.rust' in sys.modules)\n"
        "print('grpc' in sys.modules)\n"
        "from citebot.index.store.chroma_import import _OTLP, _real_otlp_exporter\n"
        "print(_OTLP in sys.modules)\n"
        "exporter = _real_otlp_exporter(endpoint='http://127.0.0.1:9')\n"
        "print(type(exporter).__name__, sys.modules[_OTLP].OTLPSpanExporter is type(exporter))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [
        "a",
        "True",
        "True",
        "False",
        "False",
        "OTLPSpanExporter",
        "True",
    ]
