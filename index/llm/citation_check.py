"""Check an LLM answer sentence by sentence against the passages it cites.

A model can write a fluent sentence that no source says, or cite [2] for a
claim from [1]. Every sentence of a generated answer must carry a citation,
and the answer reader must find the claim supported by a passage it cites;
other sentences are dropped and the drop is noted. The citations left are
renumbered [1], [2]... in order of use, so ``Answer.citations`` is exactly what
the text cites.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from citebot.index.ingest.sentences import split_sentences

_MARK = re.compile(r"\[(\d+)\]")
# "... cables. [1] Next" -> "... cables [1]. Next": a mark after the full stop
# belongs to the sentence before it.
_MARKS_AFTER_STOP = re.compile(r"([.!?][\"'”’)]*)[ \t]*((?:\[\d+\][ \t]*)+)")

Supports = Callable[[str, Sequence[str]], bool]
"""supports(claim without its marks, cited passage texts) -> is the claim backed?"""


@dataclass
class CheckedAnswer:
    text: str  # kept sentences, marks renumbered in order of use
    cited: list[int] = field(default_factory=list)  # original source numbers, in order of use
    dropped_uncited: int = 0
    dropped_unsupported: int = 0

    @property
    def notes(self) -> list[str]:
        out = []
        if self.dropped_uncited:
            out.append(
                f"dropped {self.dropped_uncited} sentence(s) of the LLM answer with no citation"
            )
        if self.dropped_unsupported:
            out.append(
                f"dropped {self.dropped_unsupported} sentence(s) of the LLM answer that the "
                "cited passage does not support"
            )
        return out


def check_sentences(text: str, passages: dict[int, str], supports: Supports) -> CheckedAnswer:
    """Keep the sentences of ``text`` that cite a passage which supports them."""
    result = CheckedAnswer(text="")
    kept: list[str] = []
    text = _MARKS_AFTER_STOP.sub(lambda m: f" {m.group(2).strip()}{m.group(1)} ", text)
    for start, end in split_sentences(text):
        sentence = text[start:end].strip()
        numbers = [int(n) for n in _MARK.findall(sentence) if int(n) in passages]
        claim = " ".join(_MARK.sub(" ", sentence).split())
        if not re.search(r"\w", claim):
            continue  # a stray mark on its own
        if not numbers:
            result.dropped_uncited += 1
            continue
        if not supports(claim, [passages[n] for n in dict.fromkeys(numbers)]):
            result.dropped_unsupported += 1
            continue
        for n in numbers:
            if n not in result.cited:
                result.cited.append(n)
        kept.append(sentence)
    renumber = {old: new for new, old in enumerate(result.cited, 1)}
    joined = " ".join(kept)
    result.text = _MARK.sub(lambda m: f"[{renumber.get(int(m.group(1)), 0)}]", joined)
    result.text = result.text.replace("[0]", "").strip()
    return result
