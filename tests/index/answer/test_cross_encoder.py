"""The reader's numpy cross-encoder matches sentence-transformers on the same weights.

The runtime never imports torch; this test does, to check the hand-written
forward pass (packed pairs, masked attention, [CLS]-only last layer) against
the library it replaces. Like test_query_encoder.py for the embedding model.
"""

from __future__ import annotations

import numpy as np
import pytest

from citebot.index.answer.reader import Reader

PAIRS = [
    ("Who designed the harbour bridge?", "It was designed by the Danish firm Holm & Partners."),
    ("Who designed the harbour bridge?", "Opponents said the bridge would spoil the view."),
    ("When did Ingram turn himself in?", "Ingram turned himself in the next day."),
    (
        "Why are they replacing the cables?",
        "Microsoft said it was a preventative step after "
        "reports of fire hazard problems with the cables, which affect Xboxes made before 2003.",
    ),
    ("How many?", "Dozens."),
]


@pytest.fixture(scope="module")
def reader() -> Reader:
    reader = Reader()
    if reader.cross_encoder is None:
        pytest.fail("the shipped reader has no cross-encoder")
    return reader


def test_numpy_logits_match_torch(reader: Reader) -> None:
    torch = pytest.importorskip("torch")
    from safetensors import safe_open
    from sentence_transformers import CrossEncoder

    from citebot.index.answer.cross_encoder import _restore
    from citebot.index.embed.model_files import resolve_model

    encoder = reader.cross_encoder
    spec = reader.config["cross_encoder"]
    base = resolve_model("packaged")
    with (
        safe_open(str(reader.folder / spec["weights"]), framework="numpy") as trained,
        safe_open(f"{base}/model.safetensors", framework="numpy") as packaged,
    ):
        weights = _restore(trained, packaged)
    model = CrossEncoder(
        base,
        num_labels=1,
        max_length=encoder.max_length,
        device="cpu",
        config_kwargs={"num_hidden_layers": encoder.layers},
    )
    state = {
        (k if k.startswith("classifier") else f"bert.{k}"): torch.from_numpy(v)
        for k, v in weights.items()
    }
    missing, unexpected = model.model.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(m.endswith("position_ids") for m in missing)
    titles = ["Harbour bridge opens", "", "NYC mayor", "Xbox power cable fire fear", ""]
    texts = [encoder._sentence_text(s, t) for (_, s), t in zip(PAIRS, titles, strict=True)]
    expected = model.predict(
        [(q, t) for (q, _), t in zip(PAIRS, texts, strict=True)],
        activation_fn=torch.nn.Identity(),
        convert_to_numpy=True,
    )
    got = np.concatenate(
        [encoder.logits(q, [s], [t]) for (q, s), t in zip(PAIRS, titles, strict=True)]
    )
    np.testing.assert_allclose(got, np.asarray(expected).reshape(-1), atol=2e-3, rtol=1e-3)
    # and batched scoring (packed pairs of different lengths) gives the same numbers
    batch = encoder.logits(PAIRS[0][0], [s for _, s in PAIRS[:2]], titles[:2])
    np.testing.assert_allclose(batch, got[:2], atol=1e-4)


def test_the_artefact_is_small_and_needs_no_torch(reader: Reader) -> None:
    import subprocess
    import sys

    weights = reader.folder / reader.config["cross_encoder"]["weights"]
    assert weights.stat().st_size <= 8 * 1024 * 1024
    code = (
        "import sys\n"
        "from citebot.index.answer.reader import Reader\n"
        "r = Reader()\n"
        "print(r.cross_encoder.logits('Who?', ['Bob did it.'])[0])\n"
        "assert 'torch' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
