"""The built-in alerting: its state machine (pure, with a hand-driven clock), the request
shares, the checker's deduplication across restarts and processes, its thresholds against
docs/monitoring/alerts.yml, and the messages in both languages."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import yaml

from korean_text import latin_words
from privatetrade.domain.alert_thresholds import AlertThresholds
from privatetrade.observability.alert_delivery import AdminNotifier, alert_message
from privatetrade.observability.alerting import (
    ALERT_RULES,
    AlertChange,
    AlertChecker,
    AlertState,
    AlertStatus,
    Readings,
    RequestRates,
    evaluate,
    step,
)

RULES_FILE = Path(__file__).resolve().parents[2] / "docs" / "monitoring" / "alerts.yml"
FOR = 300.0
T0 = 1_800_000_000.0
THRESHOLDS = AlertThresholds()
HEALTHY = Readings(
    requests=100.0,
    server_error_ratio=0.0,
    not_found_ratio=0.0,
    queue_depth=0.0,
    oldest_queued_seconds=0.0,
    workers=4.0,
    disk_free_ratio=0.5,
    memory_available_ratio=0.5,
)
# One reading per rule that breaks it (the others stay healthy).
BAD = {
    "server_errors": {"server_error_ratio": 0.2},
    "not_found": {"not_found_ratio": 0.3},
    "queue_depth": {"queue_depth": 51.0},
    "oldest_queued": {"oldest_queued_seconds": 901.0},
    "workers": {"workers": 0.0},
    "disk_free": {"disk_free_ratio": 0.05},
    "memory": {"memory_available_ratio": 0.1},
}
# The threshold itself does not fire (Prometheus compares with > and <).
AT_THRESHOLD = {
    "server_errors": {"server_error_ratio": 0.05},
    "not_found": {"not_found_ratio": 0.1},
    "queue_depth": {"queue_depth": 50.0},
    "oldest_queued": {"oldest_queued_seconds": 900.0},
    "workers": {"workers": 1.0},
    "disk_free": {"disk_free_ratio": 0.1},
    "memory": {"memory_available_ratio": 0.2},
}


def bad(name: str) -> Readings:
    return dataclasses.replace(HEALTHY, **BAD[name])  # type: ignore[arg-type]


# ---------------------------------------------------------------- step


def test_a_condition_must_hold_for_the_duration_before_firing_once() -> None:
    state, change = step(AlertState(), True, T0, FOR)
    assert (state.status, state.since, change) == (AlertStatus.PENDING, T0, None)
    state, change = step(state, True, T0 + FOR - 1, FOR)
    assert (state.status, state.since, change) == (AlertStatus.PENDING, T0, None)
    state, change = step(state, True, T0 + FOR, FOR)
    assert (state.status, state.since, change) == (AlertStatus.FIRING, T0, "firing")
    for minutes in range(1, 30):
        state, change = step(state, True, T0 + FOR + 60 * minutes, FOR)
        assert (state.status, change) == (AlertStatus.FIRING, None)


def test_a_firing_alert_resolves_once_when_the_condition_clears() -> None:
    state = AlertState(AlertStatus.FIRING, T0)
    state, change = step(state, False, T0 + 900, FOR)
    assert (state.status, state.since, change) == (AlertStatus.OK, None, "resolved")
    state, change = step(state, False, T0 + 960, FOR)
    assert (state.status, change) == (AlertStatus.OK, None)


def test_a_short_blip_sends_nothing() -> None:
    state, change = step(AlertState(), True, T0, FOR)
    state, change = step(state, False, T0 + FOR - 1, FOR)
    assert (state.status, change) == (AlertStatus.OK, None)
    state, change = step(state, True, T0 + FOR + 10, FOR)
    assert (state.status, state.since, change) == (AlertStatus.PENDING, T0 + FOR + 10, None)


@pytest.mark.parametrize("status", list(AlertStatus))
def test_an_unknown_reading_changes_nothing(status: AlertStatus) -> None:
    before = AlertState(status, None if status is AlertStatus.OK else T0)
    assert step(before, None, T0 + 10 * FOR, FOR) == (before, None)


def test_a_pending_alert_keeps_its_start_through_unknown_readings() -> None:
    state, _ = step(AlertState(), True, T0, FOR)
    state, _ = step(state, None, T0 + 100, FOR)
    state, change = step(state, True, T0 + FOR, FOR)
    assert (state.status, change) == (AlertStatus.FIRING, "firing")


def test_a_zero_duration_fires_at_the_first_breach() -> None:
    state, change = step(AlertState(), True, T0, 0.0)
    assert (state.status, change) == (AlertStatus.FIRING, "firing")


# ---------------------------------------------------------------- evaluate


def run(readings: list[tuple[float, Readings]]) -> list[AlertChange]:
    states: dict[str, AlertState] = {}
    changes: list[AlertChange] = []
    for at, reading in readings:
        states, new = evaluate(states, reading, THRESHOLDS, at)
        changes += new
    return changes


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_alert_fires_once_and_resolves_once(name: str) -> None:
    timeline = [(T0 + 30 * i, HEALTHY) for i in range(5)]
    timeline += [(T0 + 150 + 30 * i, bad(name)) for i in range(1, 40)]  # 19.5 minutes
    timeline += [(T0 + 1400 + 30 * i, HEALTHY) for i in range(10)]
    changes = run(timeline)
    assert [(c.rule.name, c.kind) for c in changes] == [(name, "firing"), (name, "resolved")]
    firing, resolved = changes
    assert firing.since == T0 + 180
    assert firing.at == T0 + 180 + FOR
    assert resolved.since == firing.since
    assert resolved.at == T0 + 1400
    assert firing.threshold == resolved.threshold == firing.rule.limit(THRESHOLDS)
    assert firing.value == pytest.approx(next(iter(BAD[name].values())))
    assert firing.key != resolved.key
    assert firing.key == f"alert:{name}:firing:2027-01-15T08:03:00Z"


@pytest.mark.parametrize("name", sorted(AT_THRESHOLD))
def test_a_reading_at_the_threshold_does_not_fire(name: str) -> None:
    reading = dataclasses.replace(HEALTHY, **AT_THRESHOLD[name])  # type: ignore[arg-type]
    assert run([(T0 + 60 * i, reading) for i in range(20)]) == []


def test_healthy_readings_never_fire() -> None:
    assert run([(T0 + 60 * i, HEALTHY) for i in range(60)]) == []


def test_shares_need_enough_requests() -> None:
    few = dataclasses.replace(bad("server_errors"), requests=THRESHOLDS.min_requests - 1)
    assert run([(T0 + 60 * i, few) for i in range(20)]) == []
    # firing, then traffic drops below the minimum: resolved
    many = bad("server_errors")
    changes = run([(T0 + 60 * i, many) for i in range(7)] + [(T0 + 600, few)])
    assert [c.kind for c in changes] == ["firing", "resolved"]


def test_shares_before_two_samples_are_unknown() -> None:
    unknown = dataclasses.replace(bad("server_errors"), requests=None)
    states, _ = evaluate({}, bad("server_errors"), THRESHOLDS, T0)
    states, changes = evaluate(states, unknown, THRESHOLDS, T0 + FOR)
    assert changes == []
    assert states["server_errors"].status is AlertStatus.PENDING


def test_a_missing_figure_keeps_a_firing_alert_and_its_last_value() -> None:
    changes = run([(T0 + 60 * i, bad("queue_depth")) for i in range(6)])
    assert [c.kind for c in changes] == ["firing"]
    states, _ = evaluate({}, bad("queue_depth"), THRESHOLDS, T0)
    states, _ = evaluate(states, bad("queue_depth"), THRESHOLDS, T0 + FOR)
    blind = dataclasses.replace(HEALTHY, queue_depth=None)
    states, changes = evaluate(states, blind, THRESHOLDS, T0 + FOR + 60)
    assert changes == []
    assert states["queue_depth"] == AlertState(AlertStatus.FIRING, T0, 51.0)


def test_min_workers_zero_switches_the_workers_alert_off() -> None:
    thresholds = AlertThresholds(min_workers=0, for_seconds=0)
    _, changes = evaluate({}, bad("workers"), thresholds, T0)
    assert changes == []
    _, changes = evaluate({}, bad("workers"), AlertThresholds(for_seconds=0), T0)
    assert [c.rule.name for c in changes] == ["workers"]


# ---------------------------------------------------------------- request shares


def test_request_shares_cover_the_window() -> None:
    rates = RequestRates(300.0)
    assert rates.readings() == (None, None, None)
    rates.add(T0, 1000, 10, 5)
    assert rates.readings() == (None, None, None)
    rates.add(T0 + 60, 1100, 30, 5)
    assert rates.readings() == (100, pytest.approx(0.2), 0.0)
    for minute in range(2, 11):  # 100 requests a minute, 1 of them 404 from now on
        rates.add(T0 + 60 * minute, 1000 + 100 * minute, 30, 5 + (minute - 1))
    requests, errors, not_found = rates.readings()
    assert requests == 500
    assert errors == 0.0
    assert not_found == pytest.approx(5 / 500)


def test_request_shares_start_again_after_a_counter_reset() -> None:
    rates = RequestRates(300.0)
    rates.add(T0, 5000, 0, 0)
    rates.add(T0 + 60, 10, 5, 0)  # the process restarted
    assert rates.readings() == (None, None, None)
    rates.add(T0 + 120, 30, 15, 0)
    assert rates.readings() == (20, 0.5, 0.0)


def test_no_requests_give_zero_shares() -> None:
    rates = RequestRates(300.0)
    rates.add(T0, 10, 1, 1)
    rates.add(T0 + 60, 10, 1, 1)
    assert rates.readings() == (0.0, 0.0, 0.0)


# ---------------------------------------------------------------- the checker


class Scripted:
    """Readings the test sets, a clock it moves, the changes notified."""

    def __init__(self) -> None:
        self.now = T0
        self.readings = HEALTHY
        self.sent: list[tuple[str, str]] = []

    def read(self, now: float) -> Readings:
        assert now == self.now
        return self.readings

    def notify(self, change: AlertChange) -> None:
        self.sent.append((change.rule.name, change.kind))

    def checker(self, state_dir: Path | None) -> AlertChecker:
        return AlertChecker(
            self.read, self.notify, THRESHOLDS, state_dir=state_dir, clock=lambda: self.now
        )


def test_a_restart_neither_repeats_nor_forgets_a_firing_alert(tmp_path: Path) -> None:
    script = Scripted()
    first = script.checker(tmp_path)
    script.readings = bad("disk_free")
    for minute in range(7):
        script.now = T0 + 60 * minute
        first.check()
    first.stop()
    assert script.sent == [("disk_free", "firing")]
    assert (tmp_path / "alerting.json").stat().st_mode & 0o777 == 0o600

    second = script.checker(tmp_path)  # the server restarted
    for minute in range(7, 20):
        script.now = T0 + 60 * minute
        second.check()
    assert script.sent == [("disk_free", "firing")]
    script.readings = HEALTHY
    script.now += 60
    second.check()
    second.stop()
    third = script.checker(tmp_path)
    script.now += 60
    third.check()
    assert script.sent == [("disk_free", "firing"), ("disk_free", "resolved")]


def test_one_checker_per_data_directory(tmp_path: Path) -> None:
    script = Scripted()
    script.readings = bad("memory")
    first, second = script.checker(tmp_path), script.checker(tmp_path)
    assert first.holds_lock()
    assert not second.holds_lock()
    for minute in range(7):
        script.now = T0 + 60 * minute
        first.check()
        assert second.check() == []
    assert script.sent == [("memory", "firing")]
    first.stop()  # its process ended: the other one takes over, knowing the alert fires
    script.readings = HEALTHY
    script.now += 60
    assert [c.kind for c in second.check()] == ["resolved"]
    assert script.sent == [("memory", "firing"), ("memory", "resolved")]
    second.stop()


def test_a_failing_notifier_does_not_stop_the_checks(tmp_path: Path) -> None:
    script = Scripted()

    def broken(change: AlertChange) -> None:
        raise ConnectionError("no route")

    checker = AlertChecker(
        script.read, broken, AlertThresholds(for_seconds=0), clock=lambda: script.now
    )
    script.readings = bad("workers")
    assert [c.kind for c in checker.check()] == ["firing"]
    script.readings = HEALTHY
    script.now += 30
    assert [c.kind for c in checker.check()] == ["resolved"]


def test_an_unreadable_state_file_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "alerting.json").write_text("{not json", encoding="utf-8")
    script = Scripted()
    checker = script.checker(tmp_path)
    assert checker.states == {}
    script.readings = bad("queue_depth")
    checker.check()
    checker.stop()
    assert '"queue_depth"' in (tmp_path / "alerting.json").read_text(encoding="utf-8")


# ---------------------------------------------------------------- thresholds = alerts.yml


def test_the_default_thresholds_are_those_of_the_prometheus_rules() -> None:
    rules = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["groups"][0]["rules"]
    expressions = {rule["alert"]: rule["expr"] for rule in rules}
    durations = {rule["alert"]: rule["for"] for rule in rules}
    for rule in ALERT_RULES:
        expression = expressions[rule.prometheus_alert]
        comparison = ">" if rule.above else "<"
        numbers = re.findall(rf"\)?\s{comparison}\s([0-9.]+)", expression)
        assert [float(n) for n in numbers] == [rule.limit(THRESHOLDS)], rule.name
        assert durations[rule.prometheus_alert] == f"{THRESHOLDS.for_seconds / 60:.0f}m"
        if rule.needs_traffic:
            assert f">= {THRESHOLDS.min_requests}" in expression
            assert f"[{THRESHOLDS.window_seconds / 60:.0f}m]" in expression
        severity = next(r for r in rules if r["alert"] == rule.prometheus_alert)["labels"]
        assert severity["severity"] == rule.severity


# ---------------------------------------------------------------- messages


def change(name: str, kind: str, value: float, at: float) -> AlertChange:
    rule = next(rule for rule in ALERT_RULES if rule.name == name)
    return AlertChange(rule, kind, value, rule.limit(THRESHOLDS), T0, at)  # type: ignore[arg-type]


def test_messages_in_english_and_korean() -> None:
    title, text = alert_message(change("disk_free", "firing", 0.053, T0 + FOR), "db1")
    assert title["en"] == "Critical: Disk almost full"
    assert "db1" in text["en"]
    assert "5.3%" in text["en"]
    assert "10.0%" in text["en"]
    assert "2027-01-15 08:00 UTC" in text["en"]
    assert title["ko"] == "긴급: 디스크 공간 부족"
    assert "5.3%" in text["ko"]
    assert "기준 10.0%" in text["ko"]
    title, text = alert_message(change("oldest_queued", "resolved", 30.0, T0 + 3000), "db1")
    assert title["en"] == "Resolved: A job has waited long for a worker"
    assert "over after 50 min" in text["en"]
    assert "threshold 15 min" in text["en"]
    assert "50분" in text["ko"]
    assert "기준 15분" in text["ko"]


@pytest.mark.parametrize("rule", ALERT_RULES, ids=lambda rule: rule.name)
@pytest.mark.parametrize("kind", ["firing", "resolved"])
def test_every_korean_alert_message_is_korean(rule: object, kind: str) -> None:
    assert isinstance(rule, type(ALERT_RULES[0]))
    title, text = alert_message(change(rule.name, kind, 1.0, T0 + 7200), "db1")
    for message in (title["ko"], text["ko"]):
        assert "alert." not in message  # every key found
        assert latin_words(message, {"db1"}) == [], message
    assert "alert." not in title["en"] + text["en"]


class Outbox:
    """Stands in for the notification service: records what would be queued."""

    def __init__(self, channels: dict[str, int]) -> None:
        self.channels = channels
        self.calls: list[tuple[str, str, str]] = []

    def notify_user(self, user_id: str, event: object, **fields: object) -> int:
        self.calls.append((user_id, str(event), str(fields["key"])))
        assert fields["link"] == "/status"
        assert isinstance(fields["title"], dict)
        assert set(fields["title"]) == {"en", "ko"}
        return self.channels.get(user_id, 0)


def test_every_admin_is_notified_with_the_change_key() -> None:
    outbox = Outbox({"a1": 2, "a2": 0})
    notifier = AdminNotifier(lambda: ["a1", "a2"], outbox, "alert", "db1")
    firing = change("memory", "firing", 0.1, T0 + FOR)
    notifier(firing)
    assert outbox.calls == [("a1", "alert", firing.key), ("a2", "alert", firing.key)]
