"""A lease kept in the store itself, so writers sharing one Chroma server take turns.

Several citebot instances (bots on different machines, a cron job, a person
running ``citebot index add``) may point ``CITEBOT_CHROMA_URL`` at one server.
A lock file only serialises processes on one machine, so the writer lease is a
record in the ``<prefix>-meta`` collection that every machine sees.

Protocol. Chroma has no transactions or compare-and-set, only records that a
single server reads and writes in order. The lease record ``lease-<name>`` holds
``owner``, a fresh ``nonce`` per claim, ``expires_at`` (wall clock) and a label
("pid 123 on host-a") for messages. To acquire (Fischer's timed mutual
exclusion):

1. read the record; if another owner's claim has not expired, wait or refuse;
2. write our claim (owner, new nonce, now + ttl);
3. if the read-to-write round trip took longer than half the settle time, do
   not trust this attempt (start again);
4. sleep the settle time, read again: we hold the lease only if our nonce is
   still there.

If two writers both saw the lease free, the later write wins and the earlier
writer sees the other nonce in step 4 and backs off. Both could win only if one
of them wrote its claim more than the settle time after reading "free", which
step 3 rules out (each writer measures its own read-to-write gap on a monotonic
clock).

Holding. A background thread renews the claim every quarter of the ttl (read,
check our nonce, write a new ``expires_at``). The holder trusts its lease only
until ``ttl - ttl/4`` after the last renewal was sent, by its own monotonic
clock, so it stops writing before anyone else may see the claim expire. Every
publish re-checks the lease (``check``): before an article's manifest lands,
before the old versions of an article are swept, before the state record
(active build, generation) is written. The state write is also a compare-and-set
on the generation (``ChromaStore.write_state``): a writer publishes only if the
stored generation is still the one it read, so generations only grow and no two
writers publish the same one. A writer that finds its lease gone stops with
``LeaseLostError``: whatever it wrote after that is invisible (chunks without a
manifest) and is swept later, once older than the orphan grace period.

A writer killed with SIGKILL stops renewing; its claim expires after ``ttl``
and the next writer takes over.

Limits (why this is a lease, not a lock):
- Expiry compares wall clocks of different machines: they must agree to well
  within ``ttl/4`` (NTP does). With a larger skew two writers can overlap.
- A writer frozen (SIGSTOP, a swapped-out VM) between its last check and its
  next write for longer than the ttl may still send that one write after the
  lease passed on. The generation compare-and-set and the manifest-last write
  order keep readers consistent, and the orphan grace period keeps the new
  holder from sweeping records that the old one is still writing.
- Each acquisition costs the settle time (1 s) and each flush one extra read.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from citebot.index.errors import StoreError, StoreLockedError

SETTLE = 1.0
"""Seconds between writing a claim and reading it back (see the module docstring).

The same for every instance (Fischer's protocol needs one bound); it allows a
read-and-write round trip of half a second, ten times a loaded server's."""
SLOW_TRIES = 10
"""Attempts spoiled by a slow round trip before giving up on a lagging server."""


class LeaseLostError(StoreLockedError):
    """This writer's lease expired or passed to another instance: it must stop writing."""


class MetaRecords(Protocol):
    """The three record operations a lease needs (``ChromaStore`` provides them)."""

    def meta_get(self, record_id: str) -> dict[str, Any] | None: ...

    def meta_put(self, record_id: str, meta: dict[str, Any]) -> None: ...

    def meta_delete(self, record_id: str) -> None: ...


@dataclass(frozen=True)
class Claim:
    owner: str
    nonce: str
    expires_at: float
    label: str

    def live(self, now: float | None = None) -> bool:
        return self.expires_at > (time.time() if now is None else now)

    @classmethod
    def from_meta(cls, meta: dict[str, Any] | None) -> Claim | None:
        if not meta or not meta.get("owner"):
            return None
        return cls(
            owner=str(meta["owner"]),
            nonce=str(meta.get("nonce", "")),
            expires_at=float(meta.get("expires_at", 0.0)),
            label=str(meta.get("label", "unknown")),
        )

    def to_meta(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "nonce": self.nonce,
            "expires_at": self.expires_at,
            "label": self.label,
        }


def process_label() -> str:
    """How other instances name this one in messages."""
    return f"pid {os.getpid()} on {socket.gethostname()}"


def new_owner() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


class Lease:
    """One named lease (``writer``, ``feeds``) held by ``owner``."""

    def __init__(
        self,
        records: MetaRecords,
        name: str,
        *,
        owner: str,
        ttl: float,
        describe: Callable[[Claim], str] | None = None,
        settle: float = SETTLE,
    ) -> None:
        self.records = records
        self.record_id = f"lease-{name}"
        self.owner = owner
        self.ttl = ttl
        self.settle = settle
        self.describe = describe or (lambda claim: f"another citebot instance ({claim.label})")
        self._nonce: str | None = None
        self._trusted_until = 0.0  # monotonic
        self._lost: str | None = None
        self._mutex = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    # ---- acquiring -----------------------------------------------------------
    def acquire(self, wait: float = 0.0) -> None:
        """Hold the lease, waiting up to ``wait`` seconds; else StoreLockedError."""
        deadline = time.monotonic() + wait
        slow = 0
        while True:
            holder = self.try_acquire()
            if holder is None:
                return
            if holder.owner == self.owner and slow < SLOW_TRIES:
                slow += 1  # our own claim, spoiled by a slow round trip: try again
                time.sleep(self.settle * _jitter())
                continue
            left = deadline - time.monotonic()
            if holder.owner == self.owner:
                self._drop_own_claim()
                raise StoreError(
                    "the Chroma server answers too slowly to claim the writer lease "
                    f"(a read and a write took over {self.settle / 2:g} s); try again"
                )
            if left <= 0:
                self._drop_own_claim()
                raise StoreLockedError(
                    f"{self.describe(holder)} is updating the index; "
                    "wait for it to finish and try again"
                )
            time.sleep(min(left, self.settle * (1 + _jitter())))

    def try_acquire(self) -> Claim | None:
        """One attempt: None when this owner now holds the lease, else who is in the way.

        A lost race or a slow round trip reports the current record (possibly our
        own unconfirmed claim), so callers simply try again.
        """
        if self.held():
            return None
        started = time.monotonic()
        current = Claim.from_meta(self.records.meta_get(self.record_id))
        if current is not None and current.live() and current.owner != self.owner:
            return current
        nonce = uuid.uuid4().hex
        sent = time.monotonic()
        claim = Claim(self.owner, nonce, time.time() + self.ttl, process_label())
        self.records.meta_put(self.record_id, claim.to_meta())
        if time.monotonic() - started > self.settle / 2:
            return claim  # too slow to trust: someone may have claimed meanwhile
        time.sleep(self.settle)
        now = Claim.from_meta(self.records.meta_get(self.record_id))
        if now is None or now.nonce != nonce:
            return now or claim
        with self._mutex:
            self._nonce, self._lost = nonce, None
            self._trusted_until = sent + self.ttl * 0.75
        self._start_renewing()
        return None

    def held(self) -> bool:
        """This owner holds the lease and trusts it (no round trip)."""
        with self._mutex:
            return (
                self._nonce is not None
                and self._lost is None
                and time.monotonic() < self._trusted_until
            )

    # ---- holding ------------------------------------------------------------------
    def check(self) -> None:
        """Raise LeaseLostError unless this owner still holds the lease (one read)."""
        with self._mutex:
            self._check_locally()
            current = Claim.from_meta(self.records.meta_get(self.record_id))
            if current is None or current.nonce != self._nonce:
                self._lost = (
                    f"{self.describe(current)} took over the index"
                    if current is not None
                    else "the writer lease record vanished"
                )
                self._check_locally()

    def renew(self) -> None:
        """Push the expiry forward; marks the lease lost if it is no longer ours."""
        with self._mutex:
            if self._nonce is None or self._lost is not None:
                return
            if time.monotonic() >= self._trusted_until:
                self._lost = "the writer lease expired before it could be renewed"
                return
            current = Claim.from_meta(self.records.meta_get(self.record_id))
            if current is None or current.nonce != self._nonce:
                self._lost = (
                    f"{self.describe(current)} took over the index"
                    if current is not None
                    else "the writer lease record vanished"
                )
                return
            sent = time.monotonic()
            claim = Claim(self.owner, self._nonce, time.time() + self.ttl, process_label())
            self.records.meta_put(self.record_id, claim.to_meta())
            self._trusted_until = sent + self.ttl * 0.75

    def release(self) -> None:
        """Stop renewing and clear the record if it is still ours."""
        self._stop.set()
        if self._renewer is not None and self._renewer is not threading.current_thread():
            self._renewer.join(5)
        self._renewer = None
        with self._mutex:
            nonce, self._nonce = self._nonce, None
        if nonce is None:
            return
        try:
            current = Claim.from_meta(self.records.meta_get(self.record_id))
            if current is not None and current.nonce == nonce:
                self.records.meta_delete(self.record_id)
        except Exception:  # the server went away: the claim simply expires
            return

    # ---- plumbing ------------------------------------------------------------------
    def _check_locally(self) -> None:
        if self._nonce is None:
            raise LeaseLostError("this citebot process does not hold the writer lease")
        if self._lost is None and time.monotonic() >= self._trusted_until:
            self._lost = "the writer lease expired (renewals failed or were too slow)"
        if self._lost is not None:
            raise LeaseLostError(
                f"stopped writing: {self._lost}; what was published so far stays, "
                "run the command again for the rest"
            )

    def _start_renewing(self) -> None:
        self._stop.clear()
        if self._renewer is not None and self._renewer.is_alive():
            return
        self._renewer = threading.Thread(
            target=self._renew_loop, name=f"citebot-{self.record_id}", daemon=True
        )
        self._renewer.start()

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            try:
                self.renew()
            except Exception:  # a network blip: the next tick retries, trust runs out
                continue
            with self._mutex:
                if self._lost is not None:
                    return

    def _drop_own_claim(self) -> None:
        """After giving up, do not leave an unconfirmed claim of ours blocking others."""
        try:
            current = Claim.from_meta(self.records.meta_get(self.record_id))
            if current is not None and current.owner == self.owner and not self.held():
                self.records.meta_delete(self.record_id)
        except Exception:
            return


def _jitter() -> float:
    return uuid.uuid4().int % 1000 / 1000
