"""The one base of every error that ends a job."""

from __future__ import annotations


class JobError(Exception):
    """A job failed in an expected way.

    ``kind`` is a stable identifier (stored in the database and counted in
    metrics), ``user_message`` is what the member reads, ``detail`` is for the
    operator's log (never a secret).
    """

    kind: str

    def __init__(self, kind: str, user_message: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind
        self.user_message = user_message
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, detail={self.detail!r})"
