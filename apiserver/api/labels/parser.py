"""The text form of label selectors (upstream ``labels.Lexer`` / ``labels.Parser``).

:func:`parse_label_selector` turns a ``?labelSelector=`` value into a
:class:`~apiserver.api.labels.selector.LabelSelector`, or raises
:class:`~apiserver.api.labels.selector.SelectorError` with the message
kube-apiserver returns for the same input.
"""

from __future__ import annotations

from enum import Enum

from apiserver.api.labels.selector import (
    LabelSelector,
    Operator,
    Requirement,
    SelectorError,
    new_requirement,
    sorted_selector,
)
from apiserver.api.labels.validation import invalid, label_key_errors

_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


class _Tok(Enum):
    ERROR = 0
    EOS = 1
    CLOSE_PAR = 2
    COMMA = 3
    DOES_NOT_EXIST = 4
    DOUBLE_EQUALS = 5
    EQUALS = 6
    GREATER_THAN = 7
    IDENTIFIER = 8
    IN = 9
    LESS_THAN = 10
    NOT_EQUALS = 11
    NOT_IN = 12
    OPEN_PAR = 13


_LITERALS = {
    ")": _Tok.CLOSE_PAR,
    ",": _Tok.COMMA,
    "!": _Tok.DOES_NOT_EXIST,
    "==": _Tok.DOUBLE_EQUALS,
    "=": _Tok.EQUALS,
    ">": _Tok.GREATER_THAN,
    "in": _Tok.IN,
    "<": _Tok.LESS_THAN,
    "!=": _Tok.NOT_EQUALS,
    "notin": _Tok.NOT_IN,
    "(": _Tok.OPEN_PAR,
}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")


def _lex(text: str) -> list[tuple[_Tok, str]]:
    """Tokenize ``text``; the last item is always ``(EOS, "")``.

    As upstream, a NUL character ends the input.
    """
    items: list[tuple[_Tok, str]] = []
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= n or text[pos] == "\0":
            items.append((_Tok.EOS, ""))
            return items
        if text[pos] in _SPECIAL:
            buf, best, best_end = "", None, pos
            while pos < n and text[pos] in _SPECIAL:
                buf += text[pos]
                pos += 1
                if buf in _LITERALS:
                    best, best_end = buf, pos
                elif best is not None:
                    break
            if best is None:
                items.append((_Tok.ERROR, f"error expected: keyword found '{buf}'"))
            else:
                items.append((_LITERALS[best], best))
            pos = best_end if best is not None else pos
            continue
        start = pos
        while pos < n and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            if text[pos] == "\0":
                break
            pos += 1
        word = text[start:pos]
        items.append((_LITERALS.get(word, _Tok.IDENTIFIER), word))


class _Parser:
    """Recursive-descent parser over pre-scanned tokens (upstream ``Parser``)."""

    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.pos = 0

    def _item(self, values: bool, advance: bool) -> tuple[_Tok, str]:
        tok, lit = self.items[min(self.pos, len(self.items) - 1)]
        if advance:
            self.pos += 1
        if values and tok in (_Tok.IN, _Tok.NOT_IN):
            tok = _Tok.IDENTIFIER
        return tok, lit

    def lookahead(self, values: bool = True) -> tuple[_Tok, str]:
        return self._item(values, advance=False)

    def consume(self, values: bool = True) -> tuple[_Tok, str]:
        return self._item(values, advance=True)

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in (_Tok.IDENTIFIER, _Tok.DOES_NOT_EXIST):
                try:
                    reqs.append(self.parse_requirement())
                except SelectorError as err:
                    raise SelectorError(f"unable to parse requirement: {err.message}") from None
                t, lit2 = self.consume()
                if t is _Tok.EOS:
                    return reqs
                if t is _Tok.COMMA:
                    t2, lit3 = self.lookahead()
                    if t2 not in (_Tok.IDENTIFIER, _Tok.DOES_NOT_EXIST):
                        raise SelectorError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok is _Tok.EOS:
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, op = self.parse_key_and_infer_operator()
        if op in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
            return new_requirement(key, op)
        op = self.parse_operator()
        if op in (Operator.IN, Operator.NOT_IN):
            values = self.parse_values()
        else:
            values = self.parse_exact_value()
        return new_requirement(key, op, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, Operator | None]:
        op: Operator | None = None
        tok, lit = self.consume()
        if tok is _Tok.DOES_NOT_EXIST:
            op = Operator.DOES_NOT_EXIST
            tok, lit = self.consume()
        if tok is not _Tok.IDENTIFIER:
            raise SelectorError(f"found '{lit}', expected: identifier")
        key_errs = label_key_errors(lit)
        if key_errs:
            raise SelectorError(invalid("<nil>", lit, "; ".join(key_errs)))
        nxt, _ = self.lookahead()
        if nxt in (_Tok.EOS, _Tok.COMMA) and op is not Operator.DOES_NOT_EXIST:
            op = Operator.EXISTS
        return lit, op

    def parse_operator(self) -> Operator:
        tok, lit = self.consume(values=False)
        ops = {
            _Tok.IN: Operator.IN,
            _Tok.EQUALS: Operator.EQUALS,
            _Tok.DOUBLE_EQUALS: Operator.DOUBLE_EQUALS,
            _Tok.GREATER_THAN: Operator.GREATER_THAN,
            _Tok.LESS_THAN: Operator.LESS_THAN,
            _Tok.NOT_IN: Operator.NOT_IN,
            _Tok.NOT_EQUALS: Operator.NOT_EQUALS,
        }
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {_BINARY_OPERATORS}")
        return ops[tok]

    def parse_values(self) -> set[str]:
        tok, lit = self.consume()
        if tok is not _Tok.OPEN_PAR:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in (_Tok.IDENTIFIER, _Tok.COMMA):
            values = self.parse_identifiers_list()
            if self.consume()[0] is not _Tok.CLOSE_PAR:
                raise SelectorError(f"found '{lit}', expected: ')'")
            return values
        if tok is _Tok.CLOSE_PAR:
            self.consume()
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok is _Tok.IDENTIFIER:
                values.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 is _Tok.COMMA:
                    continue
                if tok2 is _Tok.CLOSE_PAR:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok is _Tok.COMMA:
                if not values:
                    values.add("")
                tok2, _ = self.lookahead()
                if tok2 is _Tok.CLOSE_PAR:
                    values.add("")
                    return values
                if tok2 is _Tok.COMMA:
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in (_Tok.EOS, _Tok.COMMA):
            return {""}
        tok, lit = self.consume()
        if tok is _Tok.IDENTIFIER:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_label_selector(text: str) -> LabelSelector:
    """Parse a ``labelSelector`` query value (upstream ``labels.Parse``).

    The empty (or all-whitespace) string selects everything. Requirements are
    sorted by key; set values are sorted and de-duplicated. Raises
    :class:`SelectorError` with the upstream message on invalid input.
    """
    return sorted_selector(_Parser(text).parse())
