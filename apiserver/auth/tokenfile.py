"""Static bearer tokens from ``--token-auth-file`` (upstream ``token/tokenfile``).

The file is CSV, one token per line: ``token,user,uid[,"group1,group2"]`` (quote the
group field; it is split on commas). Lines of fewer than 3 columns make the file
invalid (upstream's message); empty tokens are skipped; a token listed twice is the
later line's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from apiserver.api.user import UserInfo
from apiserver.registry.reviews import TokenResult


class TokenFileError(ValueError):
    """The token file cannot be used."""


def parse_token_file(text: str, name: str) -> dict[str, UserInfo]:
    """Token → user from the CSV ``text`` (``name`` is the file name for messages)."""
    users: dict[str, UserInfo] = {}
    for record in csv.reader(io.StringIO(text), skipinitialspace=False):
        if not record:
            continue
        if len(record) < 3:
            raise TokenFileError(f"token file '{name}' must have at least 3 columns "
                                 f"(token, user name, user uid), found {len(record)}")
        token = record[0]
        if not token:
            continue
        groups: tuple[str, ...] = ()
        if len(record) >= 4:
            groups = tuple(g.strip() for g in record[3].split(",") if g.strip())
        users[token] = UserInfo(username=record[1], uid=record[2], groups=groups)
    return users


class TokenFileAuthenticator:
    """Bearer tokens of a token file (audience-agnostic, as upstream)."""

    def __init__(self, users: dict[str, UserInfo]) -> None:
        self._users = users

    @classmethod
    def from_file(cls, path: Path) -> TokenFileAuthenticator:
        """Load ``path``; raises :class:`TokenFileError` when it is unreadable or invalid."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TokenFileError(f"cannot read token file '{path}': {exc.strerror}") from None
        return cls(parse_token_file(text, str(path)))

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult:
        """The token's user, or not authenticated (never an error: others may know it)."""
        del audiences
        user = self._users.get(token)
        if user is None:
            return TokenResult(authenticated=False)
        return TokenResult(authenticated=True, user=user)
