"""``admission.k8s.io/v1`` AdmissionReview request and response, as pydantic models.

The API server sends one ``AdmissionReview`` per call and expects the same ``apiVersion``/``kind``
back with ``response.uid`` equal to ``request.uid``. Only the fields a RayCluster webhook reads are
typed; everything else is kept (``extra="allow"``) so nothing a future API server adds breaks parsing.
The objects themselves stay plain dicts: validation and defaulting work on the whole object dict, and
re-modelling a pod template here would only cost time.

Decided against: hand-written dict access (every malformed review would need its own check) and a
strict ``extra="forbid"`` (an API server newer than us must not be refused).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ADMISSION_GROUP_VERSIONS = ("admission.k8s.io/v1", "admission.k8s.io/v1beta1")
"""Review versions this server answers (the request's version is echoed back). v1beta1 has the same shape."""

Operation = Literal["CREATE", "UPDATE", "DELETE", "CONNECT"]


class _Wire(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class GroupVersionKind(_Wire):
    group: str = ""
    version: str = ""
    kind: str = ""


class GroupVersionResource(_Wire):
    group: str = ""
    version: str = ""
    resource: str = ""


class UserInfo(_Wire):
    username: str = ""
    uid: str = ""
    groups: list[str] = Field(default_factory=list)
    extra: dict[str, list[str]] = Field(default_factory=dict)


class AdmissionRequest(_Wire):
    uid: str
    kind: GroupVersionKind = Field(default_factory=GroupVersionKind)
    resource: GroupVersionResource = Field(default_factory=GroupVersionResource)
    sub_resource: str = Field(default="", alias="subResource")
    request_kind: GroupVersionKind | None = Field(default=None, alias="requestKind")
    request_resource: GroupVersionResource | None = Field(default=None, alias="requestResource")
    request_sub_resource: str = Field(default="", alias="requestSubResource")
    name: str = ""
    namespace: str = ""
    operation: Operation
    user_info: UserInfo = Field(default_factory=UserInfo, alias="userInfo")
    object: dict[str, Any] | None = None
    old_object: dict[str, Any] | None = Field(default=None, alias="oldObject")
    dry_run: bool = Field(default=False, alias="dryRun")
    options: dict[str, Any] | None = None


class AdmissionReviewRequest(_Wire):
    """What the API server POSTs. ``request`` is optional here so its absence gets a clear 400."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    request: AdmissionRequest | None = None


class StatusCause(_Wire):
    """``meta/v1 StatusCause``: ``reason`` is the field error type (``FieldValueInvalid``…)."""

    reason: str = ""
    message: str = ""
    field: str = ""


class StatusDetails(_Wire):
    name: str = ""
    group: str = ""
    kind: str = ""
    causes: list[StatusCause] = Field(default_factory=list)


class Status(_Wire):
    """``meta/v1 Status`` as the API server passes it on to the client of a denied request."""

    status: str = "Failure"
    message: str = ""
    reason: str = ""
    code: int = 0
    details: StatusDetails | None = None


class AdmissionResponse(_Wire):
    uid: str
    allowed: bool
    status: Status | None = None
    patch: str | None = None
    """base64 of an RFC 6902 JSON patch."""
    patch_type: Literal["JSONPatch"] | None = Field(default=None, alias="patchType")
    warnings: list[str] | None = None
    audit_annotations: dict[str, str] | None = Field(default=None, alias="auditAnnotations")


class AdmissionReviewResponse(_Wire):
    api_version: str = Field(default="admission.k8s.io/v1", alias="apiVersion")
    kind: str = "AdmissionReview"
    response: AdmissionResponse

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=True).encode()
