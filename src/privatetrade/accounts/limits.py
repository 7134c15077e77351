"""Login limits that slow password guessing without letting anyone lock a user out.

Three limits, all over the failures of the last ``failure_window`` (15 minutes) that
no successful login has cleared:

- **Per account and client.** After ``free_failures_per_pair`` failures from one client
  on one account, that client waits before its next try on that account: 5 s, then
  10 s, 20 s, ... up to ``max_delay`` (5 minutes), counted from its last failure.
- **Per account.** After ``free_failures_per_account`` failures on an account from all
  clients together, every client that has itself failed on the account waits the
  same way, counted from the account's last failure: many clients cannot multiply
  the guesses. A client that has not failed on the account is not slowed, so the
  owner logs in at once while an attacker hammers the account elsewhere.
- **Per client.** ``max_failures_per_client`` failures from one client across all
  accounts (credential stuffing) stop its logins until the oldest leaves the window.

A slowed attempt is answered 429 with ``Retry-After`` and its password is not checked.
A successful login clears the failures of its account from its client.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from privatetrade.db.logins import FailureCounts
from privatetrade.errors import LimitExceededError

__all__ = ["LoginPolicy", "RateLimitedError", "check_limits"]

_MAX_DOUBLINGS = 30


class RateLimitedError(LimitExceededError):
    """A login attempt must wait ``retry_after`` seconds; ``limit`` names the limit.

    ``limit`` is ``client`` (too many failures from this client), ``pair`` (from this
    client on this account) or ``account`` (on this account, from clients that failed).
    """

    def __init__(self, retry_after: int, limit: str) -> None:
        super().__init__("too many failed logins; try again later", retry_after=retry_after)
        self.limit = limit


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """Session lifetime and login limits (see the module docstring)."""

    session_lifetime: dt.timedelta = dt.timedelta(hours=12)
    link_lifetime: dt.timedelta = dt.timedelta(hours=24)
    failure_window: dt.timedelta = dt.timedelta(minutes=15)
    free_failures_per_pair: int = 5
    free_failures_per_account: int = 20
    max_failures_per_client: int = 20
    first_delay: dt.timedelta = dt.timedelta(seconds=5)
    max_delay: dt.timedelta = dt.timedelta(minutes=5)
    failure_retention: dt.timedelta = dt.timedelta(days=30)

    def delay(self, failures: int, free: int) -> dt.timedelta:
        """The wait after ``failures`` failures when ``free`` go unslowed (0 below)."""
        if failures < free:
            return dt.timedelta(0)
        doublings = min(failures - free, _MAX_DOUBLINGS)
        delay: dt.timedelta = self.first_delay * (2**doublings)
        return min(delay, self.max_delay)


def check_limits(policy: LoginPolicy, counts: FailureCounts, now: dt.datetime) -> None:
    """Refuse an attempt that must wait.

    Raises:
        RateLimitedError: The client, the account from this client, or the account
            (for a client that has failed on it) must wait first.
    """
    if counts.client >= policy.max_failures_per_client and counts.client_oldest is not None:
        _refuse_until(counts.client_oldest + policy.failure_window, now, "client")
    if counts.pair_last is not None:
        wait = policy.delay(counts.pair, policy.free_failures_per_pair)
        _refuse_until(counts.pair_last + wait, now, "pair")
        if counts.account_last is not None:
            wait = policy.delay(counts.account, policy.free_failures_per_account)
            _refuse_until(counts.account_last + wait, now, "account")


def _refuse_until(ready: dt.datetime, now: dt.datetime, limit: str) -> None:
    if now < ready:
        seconds = (ready - now).total_seconds()
        raise RateLimitedError(max(1, math.ceil(seconds)), limit)
