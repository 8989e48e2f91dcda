"""What the bot remembers between Discord events: answers and thread histories.

Why in memory and bounded: the Sources button and follow-up threads only need
recent answers, and a bot that runs for weeks must not grow without limit.
After a restart old buttons answer "expired, ask again" and old threads start
a fresh conversation — an acceptable trade for keeping no extra store.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Sequence

from citebot.index import Answer, Turn


class AnswerStore:
    """Recent answers by a short random key (carried in the button's custom_id)."""

    def __init__(self, capacity: int = 1000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, Answer] = OrderedDict()

    def put(self, answer: Answer) -> str:
        key = secrets.token_hex(8)
        self._items[key] = answer
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)
        return key

    def get(self, key: str) -> Answer | None:
        answer = self._items.get(key)
        if answer is not None:
            self._items.move_to_end(key)
        return answer

    def __len__(self) -> int:
        return len(self._items)


class Conversations:
    """Question/answer turns per conversation channel (thread or DM).

    A channel is "tracked" once the bot has answered in it; plain messages in a
    tracked thread are follow-up questions. Only the last ``max_turns`` turns are
    kept: older context rarely helps resolve "he" or "that", and it slows retrieval.
    """

    def __init__(self, capacity: int = 500, max_turns: int = 6) -> None:
        self.capacity = capacity
        self.max_turns = max_turns
        self._turns: OrderedDict[int, list[Turn]] = OrderedDict()

    def tracks(self, channel_id: int) -> bool:
        return channel_id in self._turns

    def history(self, channel_id: int) -> list[Turn]:
        return list(self._turns.get(channel_id, ()))

    def add(self, channel_id: int, turns: Sequence[Turn]) -> None:
        """Append turns (starting the conversation if new)."""
        kept = [*self._turns.pop(channel_id, []), *turns][-self.max_turns :]
        self._turns[channel_id] = kept
        while len(self._turns) > self.capacity:
            self._turns.popitem(last=False)

    def forget(self, channel_id: int) -> None:
        self._turns.pop(channel_id, None)

    def __len__(self) -> int:
        return len(self._turns)
