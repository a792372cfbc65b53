"""Kubernetes' name and label syntax rules, with apimachinery's exact messages (``util/validation``).

A RayCluster name must be a DNS-1035 label, a group name a DNS-1123 label, label keys qualified names
and label values at most 63 characters of a restricted alphabet. The webhook, the builders and the
emulator all check these, and users compare our texts with the API server's, so each rule and its
message exists once, here. Functions return every problem (an empty list when valid), as upstream's
``Is*`` functions do; callers add the field path and the bad value.
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1035_LABEL_MESSAGE",
    "DNS1123_LABEL_MESSAGE",
    "DNS1123_SUBDOMAIN_MESSAGE",
    "DNS1123_SUBDOMAIN_RE",
    "LABEL_VALUE_MESSAGE",
    "QUALIFIED_NAME_MESSAGE",
    "dns1035_label_errors",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "label_value_errors",
    "max_len_error",
    "qualified_name_errors",
]

DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
QUALIFIED_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"

DNS1123_LABEL_RE = re.compile(f"^{_DNS1123_LABEL_FMT}$")
DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}$")
DNS1035_LABEL_RE = re.compile(f"^{_DNS1035_LABEL_FMT}$")
_QUALIFIED_NAME_RE = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}$")


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """upstream ``RegexError``: the rule, its examples (joined with ``,  or`` as upstream does), the regex."""
    if examples:
        listed = ",  or ".join(f"'{example}'" for example in examples)
        return f"{message} (e.g. {listed}, regex used for validation is '{fmt}')"
    return f"{message} (regex used for validation is '{fmt}')"


DNS1123_LABEL_MESSAGE = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character",
    _DNS1123_LABEL_FMT,
    "my-name",
    "123-abc",
)
DNS1123_SUBDOMAIN_MESSAGE = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character",
    _DNS1123_SUBDOMAIN_FMT,
    "example.com",
)
DNS1035_LABEL_MESSAGE = _regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character",
    _DNS1035_LABEL_FMT,
    "my-name",
    "abc-123",
)
_QUALIFIED_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
)
QUALIFIED_NAME_MESSAGE = _regex_error(_QUALIFIED_NAME_RULE, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
LABEL_VALUE_MESSAGE = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character",
    _LABEL_VALUE_FMT,
    "MyValue",
    "my_value",
    "12345",
)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def dns1123_label_errors(value: str) -> list[str]:
    """``IsDNS1123Label``: pod-name parts, group names, container names."""
    found = [max_len_error(DNS1123_LABEL_MAX_LENGTH)] if len(value) > DNS1123_LABEL_MAX_LENGTH else []
    if not DNS1123_LABEL_RE.match(value):
        found.append(DNS1123_LABEL_MESSAGE)
    return found


def dns1123_subdomain_errors(value: str) -> list[str]:
    """``IsDNS1123Subdomain``: most object names, label-key prefixes."""
    found = [max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH)] if len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH else []
    if not DNS1123_SUBDOMAIN_RE.match(value):
        found.append(DNS1123_SUBDOMAIN_MESSAGE)
    return found


def dns1035_label_errors(value: str) -> list[str]:
    """``IsDNS1035Label``: Service names and the RayCluster name (which prefixes Service names)."""
    found = [max_len_error(DNS1123_LABEL_MAX_LENGTH)] if len(value) > DNS1123_LABEL_MAX_LENGTH else []
    if not DNS1035_LABEL_RE.match(value):
        found.append(DNS1035_LABEL_MESSAGE)
    return found


def qualified_name_errors(value: str) -> list[str]:
    """``IsQualifiedName``: a label or annotation key, ``[prefix/]name``."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            f"a qualified name {QUALIFIED_NAME_MESSAGE} with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    found: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            found.append("prefix part must be non-empty")
        else:
            found.extend(f"prefix part {problem}" for problem in dns1123_subdomain_errors(prefix))
    if not name:
        found.append("name part must be non-empty")
    elif len(name) > QUALIFIED_NAME_MAX_LENGTH:
        found.append(f"name part {max_len_error(QUALIFIED_NAME_MAX_LENGTH)}")
    if not _QUALIFIED_NAME_RE.match(name):
        found.append(f"name part {QUALIFIED_NAME_MESSAGE}")
    return found


def label_value_errors(value: str) -> list[str]:
    """``IsValidLabelValue``: empty, or at most 63 characters that start and end alphanumeric."""
    found = [max_len_error(LABEL_VALUE_MAX_LENGTH)] if len(value) > LABEL_VALUE_MAX_LENGTH else []
    if not _LABEL_VALUE_RE.match(value):
        found.append(LABEL_VALUE_MESSAGE)
    return found
