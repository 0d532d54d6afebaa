"""SAGA-L003: event names outside the taxonomy (the seed's DRIFT-001 and DRIFT-003)."""

from pathlib import Path

import pytest

from sagacrew.agents.validator import TaxonomyError
from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source
from sagacrew.agents.validator import load_taxonomy

DATA = Path(__file__).parent / "data" / "lint"


def test_load_taxonomy_returns_the_registered_names() -> None:
    assert load_taxonomy(DATA / "taxonomy.json") == {
        "ml.run.completed",
        "ml.run.started",
        "orders.order.approved",
        "user.onboarding.completed",
    }


def test_unregistered_event_names_are_reported_with_the_closest_registered_name() -> None:
    taxonomy = load_taxonomy(DATA / "taxonomy.json")
    findings = lint_path(DATA / "events.py", taxonomy=taxonomy)
    assert [(f.rule, f.line, f.column) for f in findings if f.rule == "SAGA-L003"] == [
        ("SAGA-L003", 8, 9),
        ("SAGA-L003", 25, 24),
        ("SAGA-L003", 33, 20),
        ("SAGA-L003", 39, 27),
    ]
    findings = [f for f in findings if f.rule == "SAGA-L003"]
    assert findings[0].message == "event 'ml.run.complete' is not in the taxonomy"
    assert findings[0].fix == "use the registered name 'ml.run.completed'"
    assert findings[3].fix == "use the registered name 'user.onboarding.completed'"
    assert "add it to the taxonomy" in findings[1].fix


def test_without_a_taxonomy_event_names_are_checked_against_the_naming_rules() -> None:
    findings = [f for f in lint_path(DATA / "events.py") if f.rule == "SAGA-L003"]
    assert [(f.line, f.column) for f in findings] == [(8, 9), (33, 20), (39, 27)]
    assert findings[0].message == (
        "event name 'ml.run.complete' breaks the naming rules: "
        "the last segment 'complete' is not a past-tense verb"
    )
    assert findings[0].fix.startswith("did you mean 'ml.run.completed'?")
    assert findings[2].fix.startswith("did you mean 'user.onboarding.completed'?")


def test_naming_rules_ask_for_lowercase_dotted_segments() -> None:
    [finding] = lint_source("bus.emit('Orders.Order.Approved')\n")
    assert "lowercase" in finding.message
    assert finding.fix.startswith("did you mean 'orders.order.approved'?")


def test_message_dict_name_is_an_event_slot() -> None:
    source = "bus.publish({'name': 'ml.run.complete', 'correlation_id': c, 'causation_id': d})\n"
    [finding] = lint_source(source)
    assert (finding.rule, finding.column) == ("SAGA-L003", 22)
    assert finding.fix.startswith("did you mean 'ml.run.completed'?")


def test_registered_names_pass_even_when_they_break_the_naming_rules() -> None:
    source = "bus.emit('user.onboarding.complete')\n"
    assert lint_source(source, taxonomy={"user.onboarding.complete"}) == []


def test_completion_event_keyword_outside_the_taxonomy_is_reported() -> None:
    source = "op = Operation(completion_event='ml.job.done')\n"
    [finding] = lint_source(source, taxonomy={"ml.job.finished"})
    assert (finding.rule, finding.line, finding.column) == ("SAGA-L003", 1, 33)


def test_strings_that_are_not_event_names_or_not_in_event_slots_are_ignored() -> None:
    source = (
        "log.info('ml.run.complete')\n"
        "emit('orders:123')\n"
        "subscribe('orders.*')\n"
        "stream.append('not.an.event.name.at.all')\n"
        "cfg = {'name': 'settings.yaml'}\n"
    )
    assert lint_source(source, taxonomy=set()) == []


def test_malformed_taxonomy_file_raises_with_the_expected_shape(tmp_path: Path) -> None:
    bad = tmp_path / "taxonomy.json"
    bad.write_text('{"events": [{"version": 1}]}', encoding="utf-8")
    with pytest.raises(TaxonomyError, match=r'events\[0\] has no "name" string'):
        load_taxonomy(bad)
    with pytest.raises(TaxonomyError, match="cannot read"):
        load_taxonomy(tmp_path / "missing.json")
    bad.write_text("[", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid JSON"):
        load_taxonomy(bad)
