"""numbot's settings, read from the environment (and an optional `.env`) once, at start.

Nothing else in numbot reads `os.environ`. Secrets are `SecretStr`, so they print as
`**********` in reprs, logs and validation errors.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import unquote, urlsplit

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.config.placeholders import is_placeholder
from bot.kernel.redact import redact
from bot.ops.workload import DEFAULT_CAPACITY, DEFAULT_MAX_LAG
from storage.audit import MIN_KEY_LENGTH, AuditKey
from storage.engine import redact_url

if TYPE_CHECKING:
    from bot.workflow.policy import Policy

DEFAULT_FLOWYTE_BASE_URL = "https://builder.flowyte.com/api/v1"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"

# Public on purpose: the sandbox spends no real money. Never used once FLOWYTE_API_KEY is set.
SANDBOX_AUDIT_KEY = "numbot-sandbox-audit-key-not-a-secret-0000"

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{2,20}$")
DEFAULT_DIGEST_HOUR = 9  # UTC: yesterday's digest is posted after this hour

NO_APPROVER = (
    "No approver can exist: NUMBOT_APPROVERS is empty and no spend policy names approvers or "
    "approver_groups. Set NUMBOT_APPROVERS (Slack user ids, U…), or name them in the policy "
    "file NUMBOT_POLICY names."
)

# Slack's signing secrets are 32 hex characters; anything shorter is a truncated paste, a
# placeholder or a guessable secret, and anyone who knows it can sign requests as Slack.
MIN_SIGNING_SECRET = 32


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost: traffic that never leaves the machine."""
    if host.rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SettingsError(Exception):
    """numbot is not configured correctly."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    SLACK_BOT_TOKEN: SecretStr | None = None
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_API_URL: str = DEFAULT_SLACK_API_URL
    FLOWYTE_API_KEY: SecretStr | None = None
    FLOWYTE_BASE_URL: str = DEFAULT_FLOWYTE_BASE_URL
    NUMBOT_DB: str = "numbot.db"
    # PostgreSQL, shared by several numbot processes; without it, SQLite at NUMBOT_DB
    NUMBOT_DATABASE_URL: SecretStr | None = None
    NUMBOT_APPROVERS: Annotated[tuple[str, ...], NoDecode] = ()
    NUMBOT_APPROVAL_CHANNEL: str | None = None
    # How approvers hear of a request (handlers/notifier.py): "channel" @-mentions them on
    # the card; "dm" sends each a copy instead; "both" mentions the user groups on the card
    # and sends the named approvers a copy. Nobody is both mentioned and sent a copy.
    NUMBOT_NOTIFY: Literal["channel", "dm", "both"] = "channel"
    # Where the daily digest goes (default: the approval channel).
    NUMBOT_DIGEST_CHANNEL: str | None = None
    PORT: int = Field(default=3000, ge=1, le=65535)
    NUMBOT_HOST: str = "0.0.0.0"  # noqa: S104 - a server in a container listens on all interfaces
    NUMBOT_LOG_LEVEL: str = "INFO"
    NUMBOT_LOG_FORMAT: str = "text"  # or json: one JSON object a line (bot/ops/logs.py)
    NUMBOT_FLOWYTE_TIMEOUT: float = Field(default=10.0, ge=1, le=120)
    NUMBOT_SWEEP_SECONDS: float = Field(default=30.0, ge=0.2, le=3600)
    # How long `numbot run` waits for a database that is not up yet before exiting 75.
    NUMBOT_START_WAIT_SECONDS: float = Field(default=120.0, ge=0, le=3600)
    NUMBOT_AUDIT_KEY: SecretStr | None = None
    NUMBOT_REMIND_MINUTES: float = Field(default=10.0, ge=1, le=29)
    # How often the index of owned numbers is read again from Flowyte's list (bot/workflow/owned.py).
    NUMBOT_OWNED_REFRESH_MINUTES: float = Field(default=15.0, ge=0.05, le=1440)
    NUMBOT_DIGEST_HOUR: int | None = DEFAULT_DIGEST_HOUR  # None: no daily digest ("off")
    # Warn when the wallet pays for fewer days than this of the owned numbers (bot/kernel/costs.py).
    NUMBOT_RUNWAY_ALERT_DAYS: int = Field(default=14, ge=1, le=365)
    # How often the sweep's holder reads the wallet for that warning.
    NUMBOT_WALLET_LOOK_MINUTES: float = Field(default=10.0, ge=0.05, le=1440)
    NUMBOT_POLICY: str | None = None  # the spend policy's TOML file (bot/config/policy_file.py)
    # How often each approvers' user group is read from Slack in the background; its members
    # are trusted for three times that (bot/workflow/approvers.py).
    NUMBOT_USERGROUP_REFRESH_SECONDS: float = Field(default=20.0, ge=1, le=600)
    # Commands and clicks being worked on at once before a new one is answered "busy".
    NUMBOT_MAX_IN_FLIGHT: int = Field(default=DEFAULT_CAPACITY, ge=1, le=100_000)
    # How far behind the event loop may run (twice in a row) before new work is turned away;
    # 0: never for that reason (bot/ops/workload.py).
    NUMBOT_MAX_LOOP_LAG_MS: int = Field(default=round(DEFAULT_MAX_LAG * 1000), ge=0, le=10_000)

    # SLACK_SIGNING_SECRET was set, but blank: unset for Socket Mode, refused for HTTP mode.
    _signing_secret_blank: bool = PrivateAttr(default=False)
    # The spend policy, read once by policy().
    _policy: Policy | None = PrivateAttr(default=None)

    @model_validator(mode="wrap")
    @classmethod
    def _note_a_blank_signing_secret(
        cls, data: object, handler: ModelWrapValidatorHandler[Settings]
    ) -> Settings:
        raw = data.get("SLACK_SIGNING_SECRET") if isinstance(data, dict) else None
        settings = handler(data)
        settings._signing_secret_blank = isinstance(raw, str) and not raw.strip()
        return settings

    @field_validator("NUMBOT_APPROVERS", mode="before")
    @classmethod
    def _split_approvers(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("NUMBOT_APPROVERS")
    @classmethod
    def _check_approvers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if not _SLACK_USER_ID.fullmatch(v)]
        if bad:
            raise ValueError(f"not Slack user ids (expected U…/W…): {', '.join(bad)}")
        return value

    @field_validator(
        "NUMBOT_APPROVAL_CHANNEL",
        "NUMBOT_DIGEST_CHANNEL",
        "SLACK_APP_TOKEN",
        "FLOWYTE_API_KEY",
        "SLACK_BOT_TOKEN",
        "NUMBOT_AUDIT_KEY",
        "NUMBOT_POLICY",
        "NUMBOT_DATABASE_URL",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "FLOWYTE_API_KEY",
        "NUMBOT_AUDIT_KEY",
        "NUMBOT_DATABASE_URL",
        "NUMBOT_APPROVAL_CHANNEL",
        "NUMBOT_DIGEST_CHANNEL",
        "NUMBOT_APPROVERS",
    )
    @classmethod
    def _not_a_placeholder(cls, value: object) -> object:
        # deploy/*.env.example ship these; a copy not filled in must not start numbot.
        values = value if isinstance(value, tuple) else (value,)
        for one in values:
            text = one.get_secret_value() if isinstance(one, SecretStr) else one
            if isinstance(text, str) and is_placeholder(text):
                raise ValueError(
                    "still holds the example's placeholder: put in the real value "
                    "(deploy/*.env.example only shows where it goes)"
                )
        return value

    @field_validator("NUMBOT_DATABASE_URL")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError(
                "must be a PostgreSQL URL, postgresql://user:password@host:5432/numbot "
                "(leave it unset for SQLite at NUMBOT_DB)"
            )
        if value is not None:
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise ValueError(
                    "needs PostgreSQL's driver: pip install 'numbot[postgres]'"
                ) from None
        return value

    @field_validator("SLACK_SIGNING_SECRET", mode="before")
    @classmethod
    def _blank_secret_is_unset(cls, value: object) -> object:
        # Unset here so nothing can ever verify with an empty key; require_slack() refuses a
        # blank one by name in HTTP mode (the wrap validator above remembers it was blank).
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("SLACK_SIGNING_SECRET")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SIGNING_SECRET:
            raise ValueError(
                f"is shorter than {MIN_SIGNING_SECRET} characters; Slack's signing secrets are "
                f"{MIN_SIGNING_SECRET} hex characters: copy it whole from Basic Information → "
                "App Credentials"
            )
        return value

    @field_validator("NUMBOT_APPROVAL_CHANNEL", "NUMBOT_DIGEST_CHANNEL")
    @classmethod
    def _check_channel(cls, value: str | None) -> str | None:
        if value is not None and not _SLACK_CHANNEL_ID.fullmatch(value):
            raise ValueError(f"{value!r} is not a Slack channel id (expected C…/G…)")
        return value

    @field_validator("NUMBOT_DIGEST_HOUR", mode="before")
    @classmethod
    def _hour_or_off(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text == "off":
            return None
        if text == "":
            return DEFAULT_DIGEST_HOUR
        if not text.isascii() or not text.isdigit():
            raise ValueError(f"{value!r} is not an hour: use 0-23 (UTC), or off")
        return int(text)

    @field_validator("NUMBOT_DIGEST_HOUR")
    @classmethod
    def _an_hour(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= 23:
            raise ValueError(f"{value} is not an hour: use 0-23 (UTC), or off")
        return value

    @field_validator("NUMBOT_LOG_LEVEL")
    @classmethod
    def _known_level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        if value.upper() not in levels:
            raise ValueError(f"use one of {', '.join(levels)}")
        return value.upper()

    @field_validator("NUMBOT_LOG_FORMAT")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value.strip().lower() not in ("text", "json"):
            raise ValueError("use text or json")
        return value.strip().lower()

    @field_validator("SLACK_API_URL")
    @classmethod
    def _slash_terminated(cls, value: str) -> str:
        return value if value.endswith("/") else value + "/"

    @field_validator("FLOWYTE_BASE_URL")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("FLOWYTE_BASE_URL")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        """Every Flowyte call carries the API key: only over TLS, or to this machine."""
        try:
            parts = urlsplit(value)
            host = parts.hostname
        except ValueError:
            host = None
        if not host or parts.scheme not in ("https", "http"):
            raise ValueError(
                "is not an http(s) URL with a host, like https://builder.flowyte.com/api/v1"
            )
        if parts.scheme == "http" and not is_loopback_host(host):
            raise ValueError(
                "must start with https://: numbot sends the Flowyte key with every call. "
                "http:// is accepted only for a loopback host (127.0.0.0/8, ::1, localhost)"
            )
        return value

    @field_validator("FLOWYTE_API_KEY")
    @classmethod
    def _looks_like_a_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("flowyte_sk_"):
            raise ValueError("a Flowyte API key starts with flowyte_sk_")
        return value

    @field_validator("NUMBOT_AUDIT_KEY")
    @classmethod
    def _long_enough_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_KEY_LENGTH:
            raise ValueError(
                f"must be at least {MIN_KEY_LENGTH} characters; make one with: "
                'python -c "import secrets; print(secrets.token_hex(32))"'
            )
        return value

    @model_validator(mode="after")
    def _check_token_shapes(self) -> Settings:
        if (
            self.SLACK_APP_TOKEN is not None
            and not self.SLACK_APP_TOKEN.get_secret_value().startswith("xapp-")
        ):
            raise ValueError("SLACK_APP_TOKEN is an app-level token and starts with xapp-")
        if (
            self.SLACK_BOT_TOKEN is not None
            and not self.SLACK_BOT_TOKEN.get_secret_value().startswith("xoxb-")
        ):
            raise ValueError("SLACK_BOT_TOKEN is a bot token and starts with xoxb-")
        return self

    @property
    def sandbox(self) -> bool:
        """Without a Flowyte key numbot runs on its built-in sandbox: no real money."""
        return self.FLOWYTE_API_KEY is None

    def secrets(self) -> list[str]:
        """Every secret value set, for the redaction that guards logs, Slack and the database."""
        values = (
            self.SLACK_BOT_TOKEN,
            self.SLACK_SIGNING_SECRET,
            self.SLACK_APP_TOKEN,
            self.FLOWYTE_API_KEY,
            self.NUMBOT_AUDIT_KEY,
        )
        found = [v.get_secret_value() for v in values if v is not None]
        if self.NUMBOT_DATABASE_URL is not None:
            url = self.NUMBOT_DATABASE_URL.get_secret_value()
            password = urlsplit(url).password
            found += [url, *([unquote(password), password] if password else [])]
        return found

    def database(self) -> str:
        """What storage.db.connect opens: NUMBOT_DATABASE_URL if set, else NUMBOT_DB."""
        if self.NUMBOT_DATABASE_URL is not None:
            return self.NUMBOT_DATABASE_URL.get_secret_value()
        return self.NUMBOT_DB

    def database_label(self) -> str:
        """The database as it may be shown to people: its URL without the password."""
        if self.NUMBOT_DATABASE_URL is not None:
            return redact_url(self.NUMBOT_DATABASE_URL.get_secret_value())
        return self.NUMBOT_DB

    def audit_key(self) -> AuditKey:
        """The key that seals the audit log. On the sandbox, without NUMBOT_AUDIT_KEY, a
        fixed and public one (sandbox money is not real); anywhere else numbot needs one."""
        if self.NUMBOT_AUDIT_KEY is not None:
            secret = self.NUMBOT_AUDIT_KEY.get_secret_value()
            if secret == SANDBOX_AUDIT_KEY and not self.sandbox:
                raise SettingsError(
                    "NUMBOT_AUDIT_KEY is the sandbox's published key, and this numbot spends real "
                    "money (FLOWYTE_API_KEY is set): anyone could reseal its audit log with it. "
                    'Make a secret one with `python -c "import secrets; '
                    'print(secrets.token_hex(32))"` and keep it in your secret store'
                )
            return AuditKey(secret)
        if self.sandbox:
            return AuditKey(SANDBOX_AUDIT_KEY)
        raise SettingsError(
            "NUMBOT_AUDIT_KEY is not set. With a real Flowyte key, the audit log must be sealed "
            "with a secret kept outside the database: make one with "
            '`python -c "import secrets; print(secrets.token_hex(32))"`, keep it in your '
            "secret store, and set NUMBOT_AUDIT_KEY (see docs/security.md)"
        )

    @property
    def max_loop_lag(self) -> float | None:
        """Seconds the event loop may run behind before new work is turned away; None: no limit."""
        return self.NUMBOT_MAX_LOOP_LAG_MS / 1000 or None

    @property
    def socket_mode(self) -> bool:
        return self.SLACK_APP_TOKEN is not None

    def policy(self) -> Policy:
        """The spend policy in the file NUMBOT_POLICY names, read once; without one, the
        policy that asks nothing more than numbot always did. An invalid file raises
        SettingsError with the message `numbot policy check` prints for it."""
        from bot.config.policy_file import PolicyError, load_policy
        from bot.workflow.policy import NO_POLICY

        if self._policy is None:
            try:
                self._policy = (
                    NO_POLICY if self.NUMBOT_POLICY is None else load_policy(self.NUMBOT_POLICY)
                )
            except PolicyError as exc:
                raise SettingsError(str(exc)) from None
        return self._policy

    def require_slack(self) -> None:
        """`numbot run` needs Slack credentials, a valid spend policy (when one is named) and
        someone who may approve; the demo does not."""
        policy = self.policy()  # an invalid policy is refused first, with its own message
        missing = [
            name
            for name in ("SLACK_BOT_TOKEN", "NUMBOT_APPROVAL_CHANNEL")
            if getattr(self, name) is None
        ]
        problems = []
        if not self.socket_mode and self.SLACK_SIGNING_SECRET is None:
            if self._signing_secret_blank:
                problems.append(
                    "SLACK_SIGNING_SECRET is set but blank. In HTTP mode numbot checks every "
                    "request's signature with it: set it to the app's Signing Secret (Basic "
                    "Information → App Credentials), or use Socket Mode (SLACK_APP_TOKEN)."
                )
            else:
                missing.append("SLACK_SIGNING_SECRET")
        if missing:
            problems.insert(0, "numbot run needs these settings: " + ", ".join(missing) + ".")
        if not self.NUMBOT_APPROVERS and not policy.names_approvers:
            problems.append(NO_APPROVER)
        if problems:
            raise SettingsError(
                " ".join(problems) + " (docs/configuration.md says what each setting means.)"
            )


def load_settings(**overrides: object) -> Settings:
    """Read and validate the settings; raise SettingsError with a readable message."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"  {field}: {redact(err['msg'])}")
        problem = "invalid settings:\n" + "\n".join(lines)
    # Raised outside the except block, so the pydantic error (which holds the raw values,
    # secrets included) is not even kept as the __context__.
    raise SettingsError(problem)
