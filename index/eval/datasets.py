"""Public evaluation datasets (SQuAD v1.1 dev, RealTime QA 2022, BBC News) as eval sets.

The datasets live outside the repository (``CITEBOT_DATASETS_DIR``, default
``<project root>/../shared/datasets``) and are never copied in. A loader turns
one dataset split into an :class:`EvalSet`: an articles JSONL written to a
working folder (ids kept, so gold ids match what the index cites) plus the
questions. Splits follow the dataset README: tune and report on ``dev`` only.

* SQuAD: every paragraph is one article ``squad:<article-idx>:<para-idx>``
  (index within the full ``data`` list, so ids are stable across splits);
  ``dev`` = first 24 articles, ``heldout`` = the rest.
* RealTime QA: the split is over questions (``dev`` = ids starting
  202206/07/08); all 218 articles are indexed for every split, so the other
  weeks' articles act as realistic distractors.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from citebot.index.errors import BadInputError
from citebot.index.eval.metrics import EvalQuestion
from citebot.index.settings import PROJECT_ROOT

Split = Literal["dev", "heldout", "all"]
DatasetName = Literal["squad", "realtimeqa"]
SPLITS: tuple[str, ...] = ("dev", "heldout", "all")
DATASETS: tuple[str, ...] = ("squad", "realtimeqa")
SQUAD_DEV_ARTICLES = 24
REALTIMEQA_DEV_PREFIXES = ("202206", "202207", "202208")


def datasets_dir() -> Path:
    """Where the shared datasets are; ``CITEBOT_DATASETS_DIR`` overrides."""
    configured = os.environ.get("CITEBOT_DATASETS_DIR")
    if configured:
        return Path(configured).expanduser()
    return (PROJECT_ROOT.parent / "shared" / "datasets").resolve()


def squad_path() -> Path:
    return datasets_dir() / "squad-v1.1" / "dev-v1.1.json"


def realtimeqa_dir() -> Path:
    return datasets_dir() / "realtimeqa-2022"


def bbc_dir() -> Path:
    return datasets_dir() / "bbc-news"


def require(path: Path, what: str) -> Path:
    """Fail with a message that says where the dataset was expected."""
    if not path.exists():
        raise BadInputError(
            f"{what} not found at {path}; set CITEBOT_DATASETS_DIR to the folder holding "
            "the shared datasets"
        )
    return path


@dataclass
class EvalArticle:
    id: str
    title: str
    text: str
    url: str | None = None
    published: str | None = None

    def to_json(self) -> str:
        record = {"id": self.id, "title": self.title, "text": self.text}
        if self.url:
            record["url"] = self.url
        if self.published:
            record["published"] = self.published
        return json.dumps(record, ensure_ascii=False)


@dataclass
class EvalSet:
    """Everything needed to index a dataset split and ask its questions."""

    name: str
    split: str
    articles: list[EvalArticle]
    questions: list[EvalQuestion]
    extra_sources: list[str] = field(default_factory=list)  # e.g. the BBC folder

    def write_articles(self, folder: str | Path) -> Path:
        """Write the articles JSONL that ``Library.ingest`` reads; returns its path."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.name}-{self.split}-articles.jsonl"
        with path.open("w", encoding="utf-8") as out:
            for article in self.articles:
                out.write(article.to_json() + "\n")
        return path

    def sources(self, folder: str | Path) -> list[str]:
        """Ingest sources: the written articles JSONL, then any extra folders."""
        return [str(self.write_articles(folder)), *self.extra_sources]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise BadInputError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


# --------------------------------------------------------------------------- SQuAD


def squad_article_indexes(n_articles: int, split: str) -> range:
    _check_split(split)
    dev = min(SQUAD_DEV_ARTICLES, n_articles)
    if split == "dev":
        return range(0, dev)
    if split == "heldout":
        return range(dev, n_articles)
    return range(0, n_articles)


def load_squad(
    split: str = "dev", *, max_articles: int | None = None, path: Path | None = None
) -> EvalSet:
    """SQuAD paragraphs as articles; each question's gold article is its paragraph."""
    source = require(path or squad_path(), "SQuAD v1.1 dev file")
    data = json.loads(source.read_text(encoding="utf-8"))["data"]
    indexes = list(squad_article_indexes(len(data), split))
    if max_articles is not None:
        indexes = indexes[:max_articles]
    articles: list[EvalArticle] = []
    questions: list[EvalQuestion] = []
    for a_idx in indexes:
        entry = data[a_idx]
        title = entry["title"].replace("_", " ")
        for p_idx, paragraph in enumerate(entry["paragraphs"]):
            article_id = f"squad:{a_idx}:{p_idx}"
            articles.append(EvalArticle(id=article_id, title=title, text=paragraph["context"]))
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"]))
                questions.append(
                    EvalQuestion(
                        question=qa["question"].strip(),
                        answers=answers,
                        article_ids=(article_id,),
                        id=qa["id"],
                    )
                )
    return EvalSet("squad", split, articles, questions)


# --------------------------------------------------------------------------- RealTime QA


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def realtimeqa_in_split(question_id: str, split: str) -> bool:
    _check_split(split)
    dev = question_id.startswith(REALTIMEQA_DEV_PREFIXES)
    return split == "all" or (dev if split == "dev" else not dev)


def quiz_date(question_id: str) -> dt.date | None:
    """The day a RealTime QA quiz was published: its id starts with it ("20220617_9")."""
    try:
        return dt.datetime.strptime(question_id[:8], "%Y%m%d").date()
    except ValueError:
        return None


def load_realtimeqa(
    split: str = "dev", *, bbc_distractors: bool = False, folder: Path | None = None
) -> EvalSet:
    """RealTime QA news quiz; ``answer`` (the correct choice's text) is the gold answer."""
    root = require(folder or realtimeqa_dir(), "RealTime QA folder")
    articles = [
        EvalArticle(
            id=str(a["id"]),
            title=a.get("title") or "",
            text=a["text"],
            url=a.get("url"),
            published=a.get("published"),
        )
        for a in _jsonl(require(root / "articles.jsonl", "RealTime QA articles"))
    ]
    questions = [
        EvalQuestion(
            question=q["question"].strip(),
            answers=(q["answer"],) if q.get("answer") else (),
            article_ids=tuple(q.get("gold_article_ids") or ()),
            id=str(q["id"]),
            as_of=quiz_date(str(q["id"])),
        )
        for q in _jsonl(require(root / "questions.jsonl", "RealTime QA questions"))
        if realtimeqa_in_split(str(q["id"]), split)
    ]
    extra = [str(require(bbc_dir(), "BBC News folder"))] if bbc_distractors else []
    return EvalSet("realtimeqa", split, articles, questions, extra)


# --------------------------------------------------------------------------- BBC News


def bbc_files(limit: int | None = None, folder: Path | None = None) -> list[Path]:
    """BBC article files in a stable order (topic folder, then number)."""
    root = require(folder or bbc_dir(), "BBC News folder")
    files = sorted(root.glob("*/*.txt"))
    return files if limit is None else files[:limit]


def read_bbc(path: Path) -> EvalArticle:
    """One BBC file: first line is the headline (one file has a latin-1 byte)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    headline, _, body = text.strip().partition("\n")
    return EvalArticle(
        id=f"bbc:{path.parent.name}:{path.stem}", title=headline.strip(), text=body.strip()
    )


def load_dataset(
    name: str,
    split: str = "dev",
    *,
    bbc_distractors: bool = False,
    max_articles: int | None = None,
) -> EvalSet:
    """Dispatch by dataset name (``squad`` | ``realtimeqa``)."""
    _check_split(split)
    if name == "squad":
        if bbc_distractors:
            raise BadInputError("--bbc-distractors applies to realtimeqa only")
        return load_squad(split, max_articles=max_articles)
    if name == "realtimeqa":
        return load_realtimeqa(split, bbc_distractors=bbc_distractors)
    raise BadInputError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


def subset(eval_set: EvalSet, questions: Sequence[EvalQuestion]) -> EvalSet:
    """Same articles, fewer questions (``--limit``)."""
    return EvalSet(
        eval_set.name, eval_set.split, eval_set.articles, list(questions), eval_set.extra_sources
    )
