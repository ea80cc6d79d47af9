"""A token credential for tests: well-formed JWTs, no network, no secrets."""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo

#: Tenant and object ids in the tokens (the studio URL of a job is built from the tenant).
TENANT_ID = "11111111-1111-1111-1111-111111111111"
OBJECT_ID = "22222222-2222-2222-2222-222222222222"


class FakeCredential:
    """Stands in for ``DefaultAzureCredential``; remembers which scopes were asked for.

    azure-ai-ml decodes the ``https://ml.azure.com`` token when it submits a pipeline job and
    checks its audience, so tokens are HS256 JWTs with ``aud`` set from the scope (signed with a
    throwaway key: nothing ever verifies the signature offline).
    """

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def _token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        import jwt

        self.scopes.extend(scopes)
        scope = scopes[0] if scopes else ""
        audience = scope.removesuffix("/.default")
        expires = int(time.time()) + 3600
        claims = {"aud": audience, "tid": TENANT_ID, "oid": OBJECT_ID, "exp": expires,
                  "upn": "tester@example.com"}
        return jwt.encode(claims, "offline-test-signing-key-" + "x" * 32, algorithm="HS256"), expires

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
