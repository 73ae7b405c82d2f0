"""Automatic persisted queries (Apollo's APQ): documents sent by their SHA-256, prepared once.

The convention is Apollo's. A request carries ``extensions.persistedQuery = {"version": 1,
"sha256Hash": "<64 hex digits>"}``:

- without ``query``, a known hash runs its document; an unknown one answers the GraphQL error
  ``PersistedQueryNotFound`` with ``extensions.code = "PERSISTED_QUERY_NOT_FOUND"``, and the
  client sends the request again with the text and the hash;
- with ``query``, the hash must be the SHA-256 of the text (UTF-8, hex), else the error is
  Apollo's ``provided sha does not match query`` (code ``INVALID_INPUT``); the document is
  registered once it has passed validation, as Apollo registers it, so the depth, alias and
  token limits hold for every persisted document;
- a version other than 1, or a hash that is not 64 hex digits, is ``INVALID_INPUT`` as well.

Over GET the same holds for queries; a mutation sent by hash over GET is refused as one sent as
text is. Over WebSocket documents travel as text (a hash there is only used when it is the
text's own).

The PWA's own documents (``server.pwa_documents``) are pinned when the schema is built, so the
PWA never sends their text, and each keeps its parsed AST once it has validated: a request by
their hash skips parsing and validation, and even the lookups of the documents sent as text
(``PreparedDocuments``), however many other documents pass by.

Documents clients register are kept as text only, in a least-recently-used registry of
``OMNICART_MAX_PERSISTED_QUERIES`` entries of at most ``MAX_REGISTERED_CHARS`` characters (a
longer one runs but is not registered), so no client can grow memory without bound: an AST
weighs some 200 times its text (a document at the token limit parses to over 1 MB). A request by
such a hash runs the registered text, so ``PreparedDocuments`` answers it as it answers the
same text. Each server process keeps its own registry: a hash
registered with another worker is not found here once, and the client's retry with the text
registers it here too.

The cost limit applies to every run: it is worked out when the operation executes, from its
variables.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, parse
from graphql.validation import ASTValidationRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from server.errors import ErrorCode
from server.pwa_documents import complete_documents

APQ_VERSION = 1
NOT_FOUND = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "provided sha does not match query"
_HASH = re.compile(r"[0-9a-fA-F]{64}")
# The longest text a client may register: 1,000 of them stay within some 32 MB.
MAX_REGISTERED_CHARS = 32 * 1024


def sha256_hex(text: str) -> str:
    """Return the APQ hash of a document: the hex SHA-256 of its UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class PersistedDocument:
    """A document known by its hash; ``document`` is a pinned one's AST once it has validated."""

    text: str
    pinned: bool = False
    document: DocumentNode | None = None


class PersistedDocuments:
    """The documents this process runs by hash: the pinned PWA ones and a bounded LRU of others."""

    def __init__(self, pinned: Iterable[str], max_registered: int) -> None:
        self._pinned = {sha256_hex(text): PersistedDocument(text, pinned=True) for text in pinned}
        self._registered: OrderedDict[str, PersistedDocument] = OrderedDict()
        self.max_registered = max_registered

    def get(self, sha256: str) -> PersistedDocument | None:
        """Return the document with this hash (lower-case hex), or None when it is unknown."""
        found = self._pinned.get(sha256)
        if found is None:
            found = self._registered.get(sha256)
            if found is not None:
                self._registered.move_to_end(sha256)
        return found

    def keep(self, sha256: str, text: str, document: DocumentNode) -> None:
        """Remember a validated document: a pinned one's AST, another's text (if not too long).

        The least recently used registered document is forgotten beyond ``max_registered``.
        """
        pinned = self._pinned.get(sha256)
        if pinned is not None:
            pinned.document = document
        elif sha256 not in self._registered and len(text) <= MAX_REGISTERED_CHARS:
            self._registered[sha256] = PersistedDocument(text)
            while len(self._registered) > self.max_registered:
                self._registered.popitem(last=False)

    @property
    def pinned(self) -> Mapping[str, PersistedDocument]:
        """The PWA's documents by hash; never forgotten."""
        return self._pinned

    @property
    def registered(self) -> Mapping[str, PersistedDocument]:
        """The documents clients registered, least recently used first."""
        return self._registered


@cache
def _pwa_texts() -> tuple[str, ...]:
    return tuple(complete_documents().values())


def pwa_registry(max_registered: int) -> PersistedDocuments:
    """Return a registry with the PWA's documents pinned (read from ``static/js`` once)."""
    return PersistedDocuments(_pwa_texts(), max_registered)


class PersistedQueryRefused(Exception):
    """A persisted-query request that cannot run; ``error`` is the GraphQL error to answer."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code
        self.error = GraphQLError(message, extensions={"code": code})


def _requested_hash(extensions: Mapping[str, Any] | None) -> str | None:
    """Return the lower-case hash a request's extensions ask for, None without one, or refuse."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise PersistedQueryRefused(
            "extensions.persistedQuery must be an object", ErrorCode.INVALID_INPUT
        )
    if persisted.get("version") != APQ_VERSION:
        raise PersistedQueryRefused("Unsupported persisted query version", ErrorCode.INVALID_INPUT)
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _HASH.fullmatch(sha256):
        raise PersistedQueryRefused(
            "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits",
            ErrorCode.INVALID_INPUT,
        )
    return sha256.lower()


def resolve_persisted(
    documents: PersistedDocuments, query: str | None, extensions: Mapping[str, Any] | None
) -> str | None:
    """Return the text an HTTP request runs: its own, or its hash's; refuse per APQ.

    Raises PersistedQueryRefused for an unknown hash without text, a text whose hash is not
    the one sent, or a malformed ``persistedQuery``.
    """
    sha256 = _requested_hash(extensions)
    if sha256 is None:
        return query
    if query is None:
        found = documents.get(sha256)
        if found is None:
            raise PersistedQueryRefused(NOT_FOUND, NOT_FOUND_CODE)
        return found.text
    if sha256_hex(query) != sha256:
        raise PersistedQueryRefused(HASH_MISMATCH, ErrorCode.INVALID_INPUT)
    return query


def _hash_in(extensions: Mapping[str, Any] | None) -> str | None:
    """Return a well-formed hash from an operation's extensions, else None (never refuses)."""
    try:
        return _requested_hash(extensions)
    except PersistedQueryRefused:
        return None


# How often documents sent as text were looked up, parsed and validated, in this process.
PREPARED_COUNTS: Counter[str] = Counter()


class PreparedDocuments:
    """The documents sent lately as text, parsed and validated once: a bounded LRU by text.

    One per schema, since the token limit and the validation rules are the schema's. The
    text is the key, not the AST: Strawberry's validation cache hashed the whole AST on every
    request (some 25 µs for a cart mutation), while a string keeps its hash. A document that
    fails to parse is not kept, so it is parsed (and refused) again each time it is sent.
    """

    def __init__(
        self,
        maxsize: int,
        max_tokens: int,
        rules: Iterable[type[ASTValidationRule]] = (),
    ) -> None:
        self.maxsize = maxsize
        self.max_tokens = max_tokens
        # Run after graphql-core's own rules, in this order.
        self.rules = tuple(rules)
        self._entries: OrderedDict[str, _Prepared] = OrderedDict()

    def document(self, text: str) -> DocumentNode:
        """Return the AST of a text, parsing it (within the token limit) when it is not kept."""
        PREPARED_COUNTS["looked up"] += 1
        entry = self._entries.get(text)
        if entry is not None:
            self._entries.move_to_end(text)
            return entry.document
        PREPARED_COUNTS["parsed"] += 1
        document = parse(text, max_tokens=self.max_tokens)
        self._entries[text] = _Prepared(document)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return document

    def errors(
        self,
        schema: GraphQLSchema,
        text: str,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        """Return the validation errors of the text's document, validating it only once."""
        PREPARED_COUNTS["validations"] += 1
        entry = self._entries.get(text)
        if entry is not None and entry.document is document and entry.errors is not None:
            return entry.errors
        PREPARED_COUNTS["validated"] += 1
        errors = validate_document(schema, document, rules)
        if entry is not None and entry.document is document:
            entry.errors = errors
        return errors


@dataclass
class _Prepared:
    document: DocumentNode
    errors: list[GraphQLError] | None = None


class PersistedQueries(SchemaExtension):
    """Parse and validate through ``PreparedDocuments``; run and register persisted documents.

    A pinned document's AST runs as it was validated; a document sent by hash with its text
    is registered once it validates. Only the HTTP view answers the APQ refusals
    (``resolve_persisted``); here a hash is used only when the operation's text is that
    document's, so a hash cannot run another text.

    One extension for what were five (the persisted queries, the token limit, the parser
    cache, the validation rules and the validation cache): Strawberry pays for every hook of
    every extension on every request.
    """

    def __init__(self, documents: PersistedDocuments, prepared: PreparedDocuments) -> None:
        self.documents = documents
        self.prepared = prepared
        self._to_keep: str | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self._to_keep = None
        # Strawberry's own parse and validation, were they ever reached, hold the limits too.
        context.parse_options["max_tokens"] = self.prepared.max_tokens
        context.validation_rules = (*context.validation_rules, *self.prepared.rules)
        sha256 = _hash_in(context.operation_extensions)
        if sha256 is None or context.query is None:
            yield
            return
        found = self.documents.get(sha256)
        if found is None or (found.pinned and found.document is None):
            self._to_keep = sha256
        elif found.document is not None and found.text == context.query:
            # Parsed and validated when it was kept: parsing and validation leave these alone.
            context.graphql_document = found.document
            context.pre_execution_errors = []
        yield

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None and context.query:
            context.graphql_document = self.prepared.document(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        text, document = context.query, context.graphql_document
        if context.pre_execution_errors is None and text is not None and document is not None:
            context.pre_execution_errors = self.prepared.errors(
                context.schema._schema, text, document, context.validation_rules
            )
        yield
        sha256 = self._to_keep
        if sha256 is None or text is None or document is None or context.pre_execution_errors:
            return
        if sha256_hex(text) == sha256:
            self.documents.keep(sha256, text, document)
