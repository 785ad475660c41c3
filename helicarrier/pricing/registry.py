"""The price tables an app knows, by version name, and which one prices new usage."""

from __future__ import annotations

from collections.abc import Iterable

from helicarrier.pricing.book import DEFAULT_PRICING_VERSION, PriceBook


class PriceBooks:
    def __init__(self, books: Iterable[PriceBook] = (), active: str | None = None):
        self._books = {DEFAULT_PRICING_VERSION: PriceBook(DEFAULT_PRICING_VERSION)}
        for book in books:
            self._books[book.version] = book
        self._active = active or DEFAULT_PRICING_VERSION
        if self._active not in self._books:
            raise LookupError(
                f"pricing version {self._active!r} is unknown; known: {', '.join(self.names())}"
            )

    def names(self) -> list[str]:
        return sorted(self._books)

    def get(self, version: str) -> PriceBook | None:
        return self._books.get(version)

    def active(self) -> PriceBook:
        return self._books[self._active]
