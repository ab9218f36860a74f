import logging
from types import SimpleNamespace

from handlers.errors import handle_error


async def test_unexpected_errors_get_a_reference_and_no_secret(caplog):
    sent = []

    async def respond(**message):
        sent.append(message)

    from bot.kernel.redact import RedactingFilter

    caplog.handler.addFilter(RedactingFilter())  # as bot.ops.logs.configure installs it
    error = RuntimeError("boom with xoxb-1234567890-secret inside")
    with caplog.at_level(logging.ERROR):
        await handle_error(
            error,
            {"response_url": "https://hooks.example/1"},
            respond,
            {"service": SimpleNamespace(sandbox=True)},
        )
    assert len(sent) == 1
    text = sent[0]["text"]
    reference = text.split("reference `")[1].split("`")[0]
    assert text.endswith("[SANDBOX]") and len(reference) == 8
    assert reference in caplog.text and "xoxb-1234567890-secret" not in caplog.text


async def test_no_response_url_is_told_through_the_dm_respond(caplog):
    """bot/process/wiring.py makes `respond` post to the person's DM where Slack gave no response_url
    (a button in a modal or on App Home): the error reaches them there."""
    sent = []

    async def respond(**message):
        sent.append(message)

    with caplog.at_level(logging.ERROR):
        await handle_error(ValueError("x"), {"type": "block_actions"}, respond, {})
    assert len(sent) == 1 and "reference `" in sent[0]["text"]


async def test_without_any_respond_the_error_is_logged_only(caplog):
    with caplog.at_level(logging.ERROR):
        await handle_error(ValueError("x"), {}, None, {})
    assert "unhandled error, reference" in caplog.text


# --- guarded: work past the workload's capacity ------------------------------------------------


class _Ack:
    def __init__(self):
        self.calls = []
        self.response = None

    async def __call__(self, *args, **kwargs):
        self.calls.append(kwargs)
        self.response = kwargs


def _full_workload():
    from bot.ops.workload import Workload

    workload = Workload(capacity=1)
    assert workload.admit()
    return workload


async def _run_guarded(body, workload):
    from handlers.errors import guarded

    ran, replies, ack = [], [], _Ack()

    async def listener(ack):
        ran.append(True)
        await ack()

    async def respond(**message):
        replies.append(message)

    service = SimpleNamespace(sandbox=False)
    await guarded(listener)(
        ack=ack,
        body=body,
        respond=respond,
        client=None,
        context={"workload": workload},
        service=service,
    )
    return ran, replies, ack


async def test_a_command_past_capacity_is_answered_busy_in_its_ack_and_not_run():
    """Socket Mode's way (HTTP mode answers it in the ingress, before bolt)."""
    workload = _full_workload()
    ran, replies, ack = await _run_guarded({"command": "/numbers"}, workload)
    assert ran == [] and replies == []
    assert "busy" in ack.calls[0]["text"] and workload.turned_away == 1


async def test_a_click_past_capacity_is_acked_and_told_busy_through_respond():
    workload = _full_workload()
    body = {"type": "block_actions", "response_url": "https://hooks.example/1"}
    ran, replies, ack = await _run_guarded(body, workload)
    assert ran == [] and ack.calls == [{}]
    assert "busy" in replies[0]["text"] and replies[0]["response_type"] == "ephemeral"


async def test_a_submitted_modal_is_taken_even_past_capacity():
    workload = _full_workload()
    ran, replies, _ = await _run_guarded({"type": "view_submission"}, workload)
    assert ran == [True] and replies == []
    assert workload.in_flight == 1 and workload.turned_away == 0  # counted while it ran
