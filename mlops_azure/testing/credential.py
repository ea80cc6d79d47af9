"""A token credential for tests: well-formed JWTs, no network, no secrets.

By default every token is granted. ``FakeCredential(federated_assertion_s=600, clock=...)`` is
strict the way an ``AzureCLI@2`` sign-in with workload identity federation is ("Troubleshoot
workload identity service connections", https://learn.microsoft.com/azure/devops/pipelines/release/troubleshoot-workload-identity):
the federated assertion it signed in with is valid for about 10 minutes, so a token for a scope
not yet issued (storage, ``https://ml.azure.com``) is refused with AADSTS700024 after that, while
tokens already issued stay cached until they expire (``token_lifetime_s``, about an hour) and are
not renewed after that either.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

#: Tenant and object ids in the tokens (the studio URL of a job is built from the tenant).
TENANT_ID = "11111111-1111-1111-1111-111111111111"
OBJECT_ID = "22222222-2222-2222-2222-222222222222"
#: azure-identity and MSAL renew a cached token this long before it expires.
REFRESH_MARGIN_S = 300.0


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class FakeCredential:
    """Stands in for ``DefaultAzureCredential``; remembers which scopes were asked for.

    azure-ai-ml decodes the ``https://ml.azure.com`` token when it submits a pipeline job and
    checks its audience, so tokens are HS256 JWTs with ``aud`` set from the scope (signed with a
    throwaway key: nothing ever verifies the signature offline).

    ``clock`` (seconds, default ``time.time``) lets a test move time on without waiting;
    ``federated_assertion_s`` makes it a federated sign-in whose assertion expires (see the
    module docstring); ``token_lifetime_s`` is how long an access token lasts.
    """

    def __init__(self, *, clock: Callable[[], float] | None = None,
                 federated_assertion_s: float | None = None,
                 token_lifetime_s: float = 3600.0) -> None:
        self.scopes: list[str] = []
        self.clock = clock or time.time
        self.federated_assertion_s = federated_assertion_s
        self.token_lifetime_s = token_lifetime_s
        self.signed_in_at = self.clock()
        self._issued: dict[str, tuple[str, int]] = {}

    def _token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        import jwt

        self.scopes.extend(scopes)
        scope = scopes[0] if scopes else ""
        now = self.clock()
        cached = self._issued.get(scope)
        if cached is not None and cached[1] - now > REFRESH_MARGIN_S:
            return cached
        self._check_assertion(scope, now)
        audience = scope.removesuffix("/.default")
        expires = int(now + self.token_lifetime_s)
        claims = {"aud": audience, "tid": TENANT_ID, "oid": OBJECT_ID, "exp": expires,
                  "upn": "tester@example.com"}
        issued = jwt.encode(claims, "offline-test-signing-key-" + "x" * 32, algorithm="HS256"), \
            expires
        self._issued[scope] = issued
        return issued

    def _check_assertion(self, scope: str, now: float) -> None:
        if self.federated_assertion_s is None:
            return
        valid_until = self.signed_in_at + self.federated_assertion_s
        if now <= valid_until:
            return
        from azure.core.exceptions import ClientAuthenticationError

        # The shape azure-identity gives a token request Entra ID refuses (AzureCliCredential
        # relays az's stderr): the AADSTS code first, then the assertion's time range.
        raise ClientAuthenticationError(
            message=f"AzureCliCredential: ERROR: AADSTS700024: Client assertion is not within its "
                    f"valid time range. Current time: {_iso(now)}, assertion valid from "
                    f"{_iso(self.signed_in_at)}, expiry time of assertion {_iso(valid_until)}. "
                    f"(requested scope {scope})")

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token, expires = self._token(scopes)
        return AccessToken(token, expires)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        token, expires = self._token(scopes)
        return AccessTokenInfo(token, expires)

    def close(self) -> None:
        """Nothing to release (credentials are context managers in azure-identity)."""

    def __enter__(self) -> FakeCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
