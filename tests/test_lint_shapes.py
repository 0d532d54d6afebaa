"""The lint reads Python written the way teams write it, not only the generated shapes.

``shapes.py`` holds the seed's defects in shapes the generated code never uses (a payload
dict published through ``ctx.events``, a mailer reached through ``ctx``, an HTTP post, a
Redis stream entry, a message dict built and returned); ``shapes_clean.py`` the same code
done right, which must report nothing.
"""

from pathlib import Path

from sagacrew.agents.validator import lint_path
from sagacrew.agents.validator import lint_source

DATA = Path(__file__).parent / "data" / "lint"


def test_each_shape_is_caught_with_the_right_rule_at_the_right_line() -> None:
    findings = lint_path(DATA / "shapes.py")
    assert [(f.rule, f.line) for f in findings] == [
        ("SAGA-L002", 9),  # ctx.events.publish({... uuid4() ..., "causation_id": None})
        ("SAGA-L002", 17),  # ctx.mailer.send(email=..., token=...)
        ("SAGA-L003", 23),  # bus.publish({"name": "ml.run.complete", ...})
        ("SAGA-L002", 32),  # http.post(url, json=...)
        ("SAGA-L002", 36),  # redis.xadd("events", {"event": ...})
        ("SAGA-L002", 40),  # a message dict built without causation_id
        ("SAGA-L001", 49),  # a compensate() method that only prints
        ("SAGA-L004", 54),  # while True + get + state check + sleep
    ]


def test_context_sub_objects_are_not_exempt_and_nil_and_fresh_ids_are_named() -> None:
    first, second = lint_path(DATA / "shapes.py")[:2]
    assert "causation_id set to None or empty" in first.message
    assert "freshly generated correlation_id inside send_magic_link()" in first.message
    assert second.message == "call to send() without correlation_id and causation_id"


def test_naming_rule_suggests_the_past_tense_without_a_taxonomy() -> None:
    finding = lint_path(DATA / "shapes.py")[2]
    assert finding.fix.startswith("did you mean 'ml.run.completed'?")


def test_fresh_correlation_id_through_a_variable_in_a_handler_is_reported() -> None:
    source = (
        "import uuid\n"
        "def on_paid(message, bus):\n"
        "    cid = uuid.uuid4().hex\n"
        "    bus.publish('billing.invoice.sent', {}, correlation_id=cid, causation_id=message.id)\n"
    )
    [finding] = lint_source(source)
    assert (finding.rule, finding.line) == ("SAGA-L002", 4)
    assert finding.fix.startswith("take the id from the message being handled")


def test_fresh_id_where_a_flow_starts_is_fine() -> None:
    source = (
        "import uuid\n"
        "def start(request, bus):\n"
        "    cid = str(uuid.uuid4())\n"
        "    bus.publish('orders.order.placed', {}, correlation_id=cid, causation_id=cid)\n"
    )
    assert lint_source(source) == []


def test_http_headers_carry_the_ids() -> None:
    source = (
        "client.post(url, json={'a': 1}, headers={'X-Correlation-ID': c, 'X-Causation-ID': d})\n"
        "client.post(url, json={'a': 1}, headers=trace_headers(message))\n"
    )
    assert lint_source(source) == []


def test_route_decorators_and_retries_on_http_status_are_not_reported() -> None:
    source = (
        "import time\n"
        "@router.post('/events', status_code=202)\n"
        "def receive(body): ...\n"
        "def call(session):\n"
        "    for _ in range(3):\n"
        "        response = session.get(url)\n"
        "        if response.status_code < 500:\n"
        "            return response\n"
        "        time.sleep(1)\n"
    )
    assert lint_source(source) == []
