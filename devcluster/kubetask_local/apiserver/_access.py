"""Who may talk to the local API server, and in which body types: it runs pod commands as the user who
started it, so it must not be an open door to other local processes or to web pages in a local browser.

- Authentication: the bearer token made at each start and written into the kubeconfig. Anything else is
  401 ``Unauthorized``, worded as the real server's (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters,
  ``Unauthorized``). The health and version paths stay public, as the real server's
  ``system:public-info-viewer`` ClusterRole makes them for anonymous users.
- Body types: only JSON, YAML, protobuf and the patch types. A page in a browser can POST ``text/plain``,
  form and multipart bodies to any address without a CORS preflight; those are refused with 415 as the
  real server refuses media types it has no serializer for (negotiation.NewUnsupportedMediaTypeError).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hmac
import secrets
import time

from kubetask_local.apiserver._errors import ApiError

PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/version"})
BODY_TYPES = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
# Kubernetes' own streaming and table types, and what clients send with an empty body.
_ALSO_ACCEPTED = ("application/vnd.kubernetes.protobuf;stream=watch", "application/x-yaml", "text/yaml")


def presented_token(authorization: str) -> str:
    """The token of ``Bearer <token>``, or the password of HTTP Basic credentials ("" when neither)."""
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    presented = ""
    if scheme.lower() == "bearer":
        presented = credential
    elif scheme.lower() == "basic":
        try:
            presented = base64.b64decode(credential, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            presented = ""
    return presented


def token_matches(presented: str, token: str) -> bool:
    return bool(presented) and hmac.compare_digest(presented.encode(), token.encode())


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def check_body_type(method: str, content_type: str, *, has_body: bool) -> None:
    """415 for a body whose media type the real server has no decoder for."""
    if not has_body or method.upper() in ("GET", "HEAD", "OPTIONS"):
        return
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    if not media_type:
        return  # the real server decodes a body without a Content-Type as its first type, JSON
    accepted = PATCH_TYPES if method.upper() == "PATCH" else BODY_TYPES
    if media_type in accepted or media_type in BODY_TYPES or media_type in _ALSO_ACCEPTED:
        return
    raise ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
    )


@dataclasses.dataclass(frozen=True)
class IssuedToken:
    namespace: str
    service_account: str
    uid: str
    expires: float
    bound_pod: tuple[str, str] | None = None  # (name, uid) of the pod the token is bound to


class ServiceAccountTokens:
    """Tokens of the TokenRequest API (``serviceaccounts/<name>/token``, ``kubectl create token``): opaque,
    bound to the ServiceAccount's uid (deleting the account revokes them), to an expiry and, when asked with a
    ``boundObjectRef``, to a pod (deleting the pod revokes them, as a bound token's pod claim does)."""

    def __init__(self) -> None:
        self._issued: dict[str, IssuedToken] = {}

    def issue(
        self,
        *,
        namespace: str,
        service_account: str,
        uid: str,
        seconds: int,
        bound_pod: tuple[str, str] | None = None,
    ) -> tuple[str, float]:
        token = "kubetask-sa." + secrets.token_urlsafe(32)
        expires = time.time() + seconds
        self._issued[token] = IssuedToken(namespace, service_account, uid, expires, bound_pod)
        return token, expires

    def find(self, token: str) -> IssuedToken | None:
        issued = self._issued.get(token) if token else None
        if issued is not None and issued.expires < time.time():
            del self._issued[token]
            return None
        return issued
