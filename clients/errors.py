"""The error taxonomy every vendor call ends in.

    VendorError
    ├── VendorUnavailable   connect error, 5xx, Anthropic 529     retried, trips the breaker
    ├── VendorTimeout       connect or read timeout              retried if idempotent, trips
    ├── MalformedResponse   body that does not parse             retried, trips
    ├── RateLimited         429, carries retry_after             retried after the wait
    ├── OutOfCredits        402, quota exhausted                 not retried
    ├── AuthFailed          401/403                              not retried
    ├── BadRequest          400/404/409/422                      not retried
    ├── CircuitOpen         breaker open, nothing sent           not retried
    └── NotConfigured       no credentials, nothing sent         not retried

Programming errors (TypeError, KeyError in our own code) stay outside this tree, so
that no `except VendorError` turns a bug into "the vendor is down".
"""

from __future__ import annotations


class VendorError(Exception):
    """A vendor call that did not succeed.

    Carries what an on-call engineer needs and never a credential: the message is
    built by the classifier from status, vendor error text and request id only.
    """

    retryable = False
    trips_breaker = False

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        operation: str,
        status_code: int | None = None,
        request_id: str | None = None,
        body: object = None,
        request_sent: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        # True when the request may have reached the vendor although no response
        # came back, so a retry could repeat its effect.
        self.request_sent = request_sent
        # The pipeline's CallRecord of the call this error ended, once recorded.
        self.record: object = None
        self.vendor = vendor
        self.operation = operation
        self.status_code = status_code
        self.request_id = request_id
        self.body = body

    @property
    def error_class(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        parts = [f"{self.vendor}.{self.operation}: {self.message}"]
        if self.status_code is not None:
            parts.append(f"HTTP {self.status_code}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return f"{self.error_class}({self.vendor}.{self.operation}, status={self.status_code})"


class VendorUnavailable(VendorError):
    retryable = True
    trips_breaker = True


class VendorTimeout(VendorError):
    """A connect timeout (nothing sent) or a read timeout (request_sent is True)."""

    retryable = True
    trips_breaker = True


class MalformedResponse(VendorError):
    retryable = True
    trips_breaker = True


class RateLimited(VendorError):
    """HTTP 429 or an empty client-side bucket; `retry_after` is in seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class OutOfCredits(VendorError):
    pass


class AuthFailed(VendorError):
    pass


class BadRequest(VendorError):
    pass


class CircuitOpen(VendorError):
    pass


class NotConfigured(VendorError):
    pass


# Classes whose failures count towards opening a breaker; everything else is
# excluded so that a burst of 404s or 429s never takes a healthy vendor out.
BREAKER_FAILURES: tuple[type[VendorError], ...] = (
    VendorUnavailable,
    VendorTimeout,
    MalformedResponse,
)

ERROR_CLASSES: dict[str, type[VendorError]] = {
    cls.__name__: cls
    for cls in (
        VendorUnavailable,
        VendorTimeout,
        MalformedResponse,
        RateLimited,
        OutOfCredits,
        AuthFailed,
        BadRequest,
        CircuitOpen,
        NotConfigured,
    )
}
