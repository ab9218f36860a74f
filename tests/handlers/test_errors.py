import logging
from types import SimpleNamespace

from handlers.errors import handle_error


async def test_unexpected_errors_get_a_reference_and_no_secret(caplog):
    sent = []

    async def respond(**message):
        sent.append(message)

    from bot.redact import RedactingFilter

    caplog.handler.addFilter(RedactingFilter())  # as bot.logs.configure installs it
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


async def test_no_response_url_means_log_only(caplog):
    sent = []

    async def respond(**message):  # recorded, not raised: handle_error swallows what it raises
        sent.append(message)

    with caplog.at_level(logging.ERROR):
        await handle_error(ValueError("x"), {}, respond, {})
    assert sent == []
    assert "unhandled error, reference" in caplog.text
