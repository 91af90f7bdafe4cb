"""PostgreSQL-native search: full-text (``tsvector`` / ``tsquery``), trigram similarity (``pg_trgm``) and vector
distance (pgvector), as typed expressions and predicates.

Two node types carry the operators, so each renders to the indexable operator itself:

- ``SearchMatch``, a predicate: ``vector @@ query`` (full-text), ``a % b`` (trigram similarity above
  ``pg_trgm.similarity_threshold``), ``a <% b`` (word similarity above ``pg_trgm.word_similarity_threshold``).
- ``Distance``, an expression (``double precision``): ``a <-> b`` (trigram distance, or L2 distance of
  vectors), ``a <=> b`` (cosine distance), ``a <#> b`` (negative inner product). Order by it ascending,
  with a LIMIT, for a nearest-neighbour scan of a GiST/HNSW/IVFFlat index.

The functions are ``Func`` nodes with their PostgreSQL types: ``to_tsvector``, ``to_tsquery``,
``plainto_tsquery``, ``websearch_to_tsquery``, ``ts_rank``, ``ts_rank_cd``, ``ts_headline``, ``similarity``,
``word_similarity``. ``tsvector_of`` (from the schema layer) declares a generated ``TsVector`` column:
``field(generated=tsvector_of("english", "title", "body"))``. A text-search configuration (``"english"``,
``"simple"``) is a ``$n::regconfig`` parameter. Everything here is SQL-only in memory (``NotPortable``):
stemming, dictionaries and thresholds are the database's.

Builders raise ``ValidationError`` (``ArgumentTypeError`` for a wrong kind of argument) for operands of the
wrong type, before any SQL exists.
"""

from __future__ import annotations

from typing import Any, Literal

from djogi.algebra.expr import TEXT, Expr, Func, Param, ValueType, coerce, text_argument
from djogi.algebra.predicate import Pred
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.schema.fields import tsvector_of
from djogi.schema.tsdocument import CONFIG_NAME
from djogi.types import TsVector

__all__ = [
    "Distance",
    "SearchMatch",
    "cosine_distance",
    "inner_product_distance",
    "l2_distance",
    "plainto_tsquery",
    "similarity",
    "to_tsquery",
    "to_tsvector",
    "trigram_distance",
    "trigram_match",
    "ts_headline",
    "ts_match",
    "ts_rank",
    "ts_rank_cd",
    "tsvector_of",
    "websearch_to_tsquery",
    "word_match",
    "word_similarity",
]

MatchOp = Literal["@@", "%", "<%"]
DistanceOp = Literal["<->", "<=>", "<#>"]

TSVECTOR = ValueType("tsvector", "tsvector")
TSQUERY = ValueType("tsquery", "tsquery")
FLOAT = ValueType("float", "double precision")
_REGCONFIG = ValueType(None, "regconfig")
_INTEGER = ValueType("int", "integer")


class SearchMatch(Pred, frozen=True):
    """``left @@ right``, ``left % right`` or ``left <% right``; false when either side is NULL. SQL-only."""

    __children__ = ("left", "right")

    op: MatchOp
    left: Expr[Any]
    right: Expr[Any]


class Distance(Expr[float], frozen=True, eq=False):
    """``(left <-> right)``, ``(left <=> right)`` or ``(left <#> right)``: a ``double precision`` distance
    (NULL when either side is). SQL-only."""

    __children__ = ("left", "right")

    op: DistanceOp
    left: Expr[Any]
    right: Expr[Any]

    @property
    def type(self) -> ValueType:
        return FLOAT

    def _describe(self) -> str:
        return f"({self.left.describe()} {self.op} {self.right.describe()})"


# ------------------------------------------------------------------------------------------ operands


def _typed(x: object, t: ValueType, what: str) -> Expr[Any]:
    """``x`` as an expression of kind ``t.kind``: an expression of that kind (or of unknown kind), or a
    value sent as a parameter of type ``t`` (``ValidationError`` when it does not fit)."""
    if isinstance(x, Expr):
        if x.type.kind not in (t.kind, None):
            raise ValidationError(f"{what} takes a {t.sql} expression, not {x.describe()} ({x.type.kind})")
        return x
    if x is None:
        raise ValidationError(f"{what}: None is not a value here")
    return Param(coerce(t, x, what), t)


def _text(x: object, what: str) -> Expr[Any]:
    return _typed(x, TEXT, what)


def _config(config: object, what: str) -> Param[Any]:
    name = text_argument(config, f"{what} configuration", "english")
    if not CONFIG_NAME.fullmatch(name):
        raise ValidationError(f"{what}: {name!r} is not a text search configuration name")
    return Param(name, _REGCONFIG)


def _tsquery(query: object, what: str) -> Expr[Any]:
    if not isinstance(query, Expr) or query.type.kind not in ("tsquery", None):
        raise ArgumentTypeError(
            f"{what} takes a tsquery such as websearch_to_tsquery('english', 'cats'), not {query!r}"
        )
    return query


# ------------------------------------------------------------------------------------------ full text


def to_tsvector(config: str, document: object) -> Func[TsVector]:
    """``to_tsvector($n::regconfig, document)``: the document's lexemes under ``config``."""
    return Func("to_tsvector", (_config(config, "to_tsvector()"), _text(document, "to_tsvector()")), TSVECTOR)


def to_tsquery(config: str, query: object) -> Func[Any]:
    """``to_tsquery($n::regconfig, query)``: a query in tsquery syntax (``'cat & !dog'``); malformed syntax
    is an error from the server."""
    return _query_function("to_tsquery", config, query)


def plainto_tsquery(config: str, text: object) -> Func[Any]:
    """``plainto_tsquery($n::regconfig, text)``: every word of plain text, ANDed."""
    return _query_function("plainto_tsquery", config, text)


def websearch_to_tsquery(config: str, text: object) -> Func[Any]:
    """``websearch_to_tsquery($n::regconfig, text)``: web-search syntax (``"a b" -c or d``); never fails on
    user input."""
    return _query_function("websearch_to_tsquery", config, text)


def _query_function(name: str, config: str, text: object) -> Func[Any]:
    what = f"{name}()"
    return Func(name, (_config(config, what), _text(text, what)), TSQUERY)


def ts_match(vector: object, query: object) -> Pred:
    """``vector @@ query``: the document matches the query (uses a GIN/GiST index on ``vector``)."""
    return SearchMatch("@@", _typed(vector, TSVECTOR, "ts_match()"), _tsquery(query, "ts_match()"))


def _normalization(value: object, what: str) -> Param[Any]:
    if type(value) is not int or not 0 <= value <= 63:
        raise ArgumentTypeError(f"{what} normalization is an int bit mask from 0 to 63, not {value!r}")
    return Param(value, _INTEGER)


def ts_rank(vector: object, query: object, normalization: int = 0) -> Func[float]:
    """``ts_rank(vector, query, $n::integer)``: how well the document matches (frequency of the lexemes)."""
    return _rank("ts_rank", vector, query, normalization)


def ts_rank_cd(vector: object, query: object, normalization: int = 0) -> Func[float]:
    """``ts_rank_cd(vector, query, $n::integer)``: cover density ranking (needs positions in ``vector``)."""
    return _rank("ts_rank_cd", vector, query, normalization)


def _rank(name: str, vector: object, query: object, normalization: int) -> Func[float]:
    what = f"{name}()"
    args = (_typed(vector, TSVECTOR, what), _tsquery(query, what), _normalization(normalization, what))
    return Func(name, args, FLOAT)


def ts_headline(config: str, document: object, query: object, options: str | None = None) -> Func[str]:
    """``ts_headline($n::regconfig, document, query[, $m::text])``: the document with matches marked
    (``<b>..</b>`` unless ``options`` such as ``"StartSel=<em>, StopSel=</em>, MaxWords=20"`` say otherwise)."""
    args: tuple[Expr[Any], ...] = (
        _config(config, "ts_headline()"), _text(document, "ts_headline()"), _tsquery(query, "ts_headline()"),
    )  # fmt: skip
    if options is not None:
        args += (_text(text_argument(options, "ts_headline() options", "MaxWords=20"), "ts_headline()"),)
    return Func("ts_headline", args, TEXT)


# ------------------------------------------------------------------------------------------ trigram


def similarity(a: object, b: object) -> Func[float]:
    """``similarity(a, b)``: trigram similarity of two texts, from 0 to 1 (``pg_trgm``)."""
    return Func("similarity", (_text(a, "similarity()"), _text(b, "similarity()")), FLOAT)


def word_similarity(a: object, b: object) -> Func[float]:
    """``word_similarity(a, b)``: the best similarity of ``a`` to an extent of words in ``b`` (``pg_trgm``)."""
    return Func("word_similarity", (_text(a, "word_similarity()"), _text(b, "word_similarity()")), FLOAT)


def trigram_match(a: object, b: object) -> Pred:
    """``a % b``: ``similarity(a, b)`` above ``pg_trgm.similarity_threshold`` (0.3 by default); uses a
    ``gin_trgm_ops``/``gist_trgm_ops`` index on ``a``."""
    return SearchMatch("%", _text(a, "trigram_match()"), _text(b, "trigram_match()"))


def word_match(a: object, b: object) -> Pred:
    """``a <% b``: ``word_similarity(a, b)`` above ``pg_trgm.word_similarity_threshold`` (0.6 by default);
    uses a trigram index on ``b``."""
    return SearchMatch("<%", _text(a, "word_match()"), _text(b, "word_match()"))


def trigram_distance(a: object, b: object) -> Distance:
    """``(a <-> b)``: ``1 - similarity(a, b)``; ordering by it ascending uses a ``gist_trgm_ops`` index."""
    return Distance("<->", _text(a, "trigram_distance()"), _text(b, "trigram_distance()"))


# ------------------------------------------------------------------------------------------ vectors

_VECTOR = ValueType("vector", "vector")


def _vectors(a: object, b: object, what: str) -> tuple[Expr[Any], Expr[Any]]:
    return _typed(a, _VECTOR, what), _typed(b, _VECTOR, what)


def l2_distance(a: object, b: object) -> Distance:
    """``(a <-> b)``: Euclidean distance (``vector_l2_ops`` indexes)."""
    return Distance("<->", *_vectors(a, b, "l2_distance()"))


def cosine_distance(a: object, b: object) -> Distance:
    """``(a <=> b)``: cosine distance, 1 - cosine similarity (``vector_cosine_ops`` indexes)."""
    return Distance("<=>", *_vectors(a, b, "cosine_distance()"))


def inner_product_distance(a: object, b: object) -> Distance:
    """``(a <#> b)``: the negative inner product, smallest for the largest product (``vector_ip_ops``)."""
    return Distance("<#>", *_vectors(a, b, "inner_product_distance()"))
