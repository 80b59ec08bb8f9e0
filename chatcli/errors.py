"""The project's exceptions and exit codes.

Every failure a user can meet is one of these by the time it reaches the CLI::

    ChatError                      exit 1 unless stated
    ├── UsageError                 exit 2  bad flags, missing prompt, unusable stdin
    ├── ConfigError                exit 2  unreadable or invalid config, unknown provider
    ├── Interrupted                exit 130  Ctrl-C; what arrived so far is kept
    └── ProviderError                      anything the model server or transport did
        ├── AuthError              exit 3  missing, rejected or malformed API key
        ├── RateLimitError         exit 4  429 throttling (retryable)
        ├── QuotaError             exit 4  arrears, quota or free tier used up (never retried)
        ├── NetworkError           exit 5  connection refused, DNS, timeout, stream cut
        ├── ServerError                    5xx (retryable)
        ├── ContentFilterError             the provider's safety review refused
        ├── ModelNotFoundError             unknown model name
        ├── BadRequestError                other 4xx
        └── BadResponseError               a 200 answer that is not what was asked for (HTML, wrong JSON)

A ProviderError carries the server's request_id when it gave one (shown at the end of the line).

Not ChatErrors: ``Terminated`` (SIGTERM 143, SIGHUP 129) unwinds like Ctrl-C, and anything else
that reaches the boundary is an internal error (exit 70, traceback in the crash log).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit statuses, documented in the README."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    RATE_LIMIT = 4
    NETWORK = 5
    INTERNAL = 70  # a bug: the traceback goes to the crash log
    HANGUP = 129  # 128 + SIGHUP
    INTERRUPTED = 130
    TERMINATED = 143  # 128 + SIGTERM


class ChatError(Exception):
    """Base of all errors shown to the user as one line."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ChatError):
    """The command line or its input cannot be used."""

    exit_code = ExitCode.USAGE


class ConfigError(ChatError):
    """The configuration file or a setting is invalid."""

    exit_code = ExitCode.USAGE


class Interrupted(ChatError):
    """The user pressed Ctrl-C."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str = "interrupted") -> None:
        super().__init__(message)


class Terminated(BaseException):  # noqa: N818 (like KeyboardInterrupt, not an error of ours)
    """SIGTERM or SIGHUP arrived: unwind like Ctrl-C, keeping what arrived so far; exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.exit_code = 128 + signum


class ProviderError(ChatError):
    """The provider or the transport to it failed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.request_id = request_id  # the server's id for the failed call, for support requests


class AuthError(ProviderError):
    exit_code = ExitCode.AUTH


class RateLimitError(ProviderError):
    exit_code = ExitCode.RATE_LIMIT
    retryable = True


class QuotaError(ProviderError):
    exit_code = ExitCode.RATE_LIMIT


class NetworkError(ProviderError):
    exit_code = ExitCode.NETWORK
    retryable = True


class ServerError(ProviderError):
    retryable = True


class ContentFilterError(ProviderError):
    pass


class ModelNotFoundError(ProviderError):
    pass


class BadRequestError(ProviderError):
    pass


class BadResponseError(ProviderError):
    """The server answered 200 with something else: a captive portal's page, another API, garbage."""
