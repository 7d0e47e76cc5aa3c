"""SendGrid v3 in its wire format: mail send, sandbox mode, credits and stats."""

from __future__ import annotations

import datetime as dt
import uuid

from console.sandbox.base import SandboxRequest, SandboxResponse, SandboxVendor

ESSENTIALS_CREDITS = 50000
MAX_RECIPIENTS = 1000
MAX_STATS_DAYS = 366
HELP_URL = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"
METRIC_NAMES = (
    "blocks", "bounce_drops", "bounces", "clicks", "deferred", "delivered", "invalid_emails",
    "opens", "processed", "requests", "spam_report_drops", "spam_reports", "unique_clicks",
    "unique_opens", "unsubscribe_drops", "unsubscribes",
)


class InvalidMail(ValueError):
    """A mail send body that SendGrid would reject with 400, naming the field."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class SendGridSandbox(SandboxVendor):
    name = "sendgrid"
    prefix = "/sendgrid"

    def __init__(self, limit: int, window: float, credits: int = ESSENTIALS_CREDITS) -> None:
        super().__init__(limit, window)
        self.credits_total = credits
        self.credits_used = 0
        # Messages accepted for delivery (202) and messages only validated in sandbox mode (200).
        self.sends = 0
        self.test_sends = 0
        self.recipients = 0

    def authenticate(self, request: SandboxRequest) -> bool:
        scheme, _, key = (request.header("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and bool(key.strip())

    def error(self, status: int, message: str, field: str | None = None) -> SandboxResponse:
        # SendGrid has no 402: a plan over its allotment gets 401 "Maximum credits exceeded".
        if status == 402:
            status, message = 401, "Maximum credits exceeded"
        error: dict[str, object] = {"field": field, "message": message}
        if status == 400:
            error["help"] = HELP_URL
        headers = {}
        if status == 429:
            headers = self.rate_headers(0, self.window.window)
        return SandboxResponse(status, {"errors": [error]}, headers=headers)

    def route(self, request: SandboxRequest) -> SandboxResponse:
        if request.method == "POST" and request.path == "/v3/mail/send":
            return self._send(request)
        if request.method == "GET" and request.path == "/v3/user/credits":
            return self._credits()
        if request.method == "GET" and request.path == "/v3/stats":
            return self._stats(request)
        if request.path in ("/v3/mail/send", "/v3/user/credits", "/v3/stats"):
            return self.error(405, f"method {request.method} not allowed on {request.path}")
        return self.error(404, f"no route {request.method} {request.path}")

    def _send(self, request: SandboxRequest) -> SandboxResponse:
        body = request.json()
        try:
            recipients = self._validate(body)
        except InvalidMail as exc:
            return self.error(400, exc.message, exc.field)
        settings = body.get("mail_settings") or {}
        sandbox_mode = (settings.get("sandbox_mode") or {}).get("enable") is True
        if sandbox_mode:
            with self.lock:
                self.test_sends += 1
            return SandboxResponse(200)

        message_id = uuid.uuid4().hex[:22]
        with self.lock:
            self.sends += 1
            self.recipients += recipients
            self.credits_used += recipients
        self.charge(message_id)
        return SandboxResponse(202, headers={"X-Message-Id": message_id})

    def _validate(self, body: object) -> int:
        """Return the number of recipients, raising InvalidMail as SendGrid would."""
        if not isinstance(body, dict):
            raise InvalidMail(None, "The request body must be a JSON object.")
        personalizations = body.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations:
            raise InvalidMail("personalizations", "The personalizations field is required and "
                              "must have at least one personalization.")
        recipients = 0
        for index, personalization in enumerate(personalizations):
            to = personalization.get("to") if isinstance(personalization, dict) else None
            if not isinstance(to, list) or not to:
                raise InvalidMail(f"personalizations.{index}.to",
                                  "The to array is required for all personalization objects.")
            for kind in ("to", "cc", "bcc"):
                for address in personalization.get(kind) or []:
                    if not isinstance(address, dict) or "@" not in str(address.get("email", "")):
                        raise InvalidMail(f"personalizations.{index}.{kind}",
                                          "Does not contain a valid address.")
                    recipients += 1
        if recipients > MAX_RECIPIENTS:
            raise InvalidMail("personalizations", f"The total number of recipients must be "
                              f"{MAX_RECIPIENTS} or less.")
        sender = body.get("from")
        if not isinstance(sender, dict) or "@" not in str(sender.get("email", "")):
            raise InvalidMail("from.email", "The from email does not contain a valid address.")
        if not body.get("template_id"):
            if not body.get("subject") and not any(
                isinstance(p, dict) and p.get("subject") for p in personalizations
            ):
                raise InvalidMail("subject", "The subject is required.")
            content = body.get("content")
            if not isinstance(content, list) or not content:
                raise InvalidMail("content", "Unless a valid template_id is provided, the "
                                  "content parameter is required.")
        return recipients

    def _credits(self) -> SandboxResponse:
        today = dt.date.today()
        first = today.replace(day=1)
        next_reset = (first + dt.timedelta(days=32)).replace(day=1)
        with self.lock:
            used = self.credits_used
        return SandboxResponse(200, {
            "remain": max(self.credits_total - used, 0),
            "total": self.credits_total,
            "overage": max(used - self.credits_total, 0),
            "used": used,
            "last_reset": first.isoformat(),
            "next_reset": next_reset.isoformat(),
            "reset_frequency": "monthly",
        })

    def _stats(self, request: SandboxRequest) -> SandboxResponse:
        try:
            start = dt.date.fromisoformat(request.first("start_date") or "")
        except ValueError:
            return self.error(400, "start_date is required and must be YYYY-MM-DD", "start_date")
        end_text = request.first("end_date")
        try:
            end = dt.date.fromisoformat(end_text) if end_text else dt.date.today()
        except ValueError:
            return self.error(400, "end_date must be YYYY-MM-DD", "end_date")
        if end < start or (end - start).days > MAX_STATS_DAYS:
            return self.error(400, "end_date must be on or after start_date, within a year",
                              "end_date")

        today = dt.date.today()
        with self.lock:
            sends, recipients = self.sends, self.recipients
        days = []
        for offset in range((end - start).days + 1):
            day = start + dt.timedelta(days=offset)
            metrics = dict.fromkeys(METRIC_NAMES, 0)
            if day == today:
                # Every sandbox message counts as processed and delivered on the day it was sent.
                metrics.update(requests=sends, processed=recipients, delivered=recipients)
            days.append({"date": day.isoformat(), "stats": [{"metrics": metrics}]})
        return SandboxResponse(200, days)

    def set_credits_used(self, credits: int) -> None:
        """Set the e-mail credits used this period, as if sent outside this console."""
        with self.lock:
            self.credits_used = credits

    def stats(self) -> dict[str, object]:
        data = super().stats()
        with self.lock:
            data.update(sends=self.sends, test_sends=self.test_sends,
                        credits_total=self.credits_total,
                        credits_left=max(self.credits_total - self.credits_used, 0))
        return data

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.credits_used = self.sends = self.test_sends = self.recipients = 0
