"""Label selector parsing, matching and messages (apimachinery ``labels`` semantics)."""

from __future__ import annotations

import pytest

from apiserver.api.labels import (
    LabelSelector,
    Operator,
    SelectorError,
    format_labels,
    new_requirement,
    parse_label_selector,
    selector_from_label_selector_object,
    selector_from_set,
)

NAME_REGEX_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("", ""),
        ("   ", ""),
        ("a=b", "a=b"),
        ("a==b", "a==b"),
        ("a!=b", "a!=b"),
        ("x in (b,a)", "x in (a,b)"),
        ("x notin (a)", "x notin (a)"),
        ("k", "k"),
        ("!k", "!k"),
        ("k>3", "k>3"),
        ("k<30", "k<30"),
        ("  z = 1 ,\ta in ( x , y ) ", "a in (x,y),z=1"),
        ("a=", "a="),
        ("x in ()", "x in ()"),
        ("x in (,a)", "x in (,a)"),
        ("x in (a,,b)", "x in (,a,b)"),
        ("x in (a,a)", "x in (a)"),
        ("x in (in,notin)", "x in (in,notin)"),
        ("notin=in", "notin=in"),
        ("example.com/app=v1", "example.com/app=v1"),
        ("a=b,a=c", "a=b,a=c"),
    ],
)
def test_parse_canonical_form(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


def test_requirements_sorted_by_key() -> None:
    sel = parse_label_selector("z=1,b,a!=2")
    assert [r.key for r in sel.requirements] == ["a", "b", "z"]
    assert [r.operator for r in sel.requirements] == [
        Operator.NOT_EQUALS,
        Operator.EXISTS,
        Operator.EQUALS,
    ]


def test_empty_selects_everything() -> None:
    sel = parse_label_selector("")
    assert sel.empty
    assert sel.matches({})
    assert sel.matches(None)
    assert sel.matches({"a": "b"})
    assert not parse_label_selector("a").empty


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("a=b", {"a": "b"}, True),
        ("a=b", {"a": "c"}, False),
        ("a=b", {}, False),
        ("a==b", {"a": "b"}, True),
        ("a!=b", {"a": "b"}, False),
        ("a!=b", {"a": "c"}, True),
        ("a!=b", {}, True),  # != matches objects lacking the key
        ("a in (x,y)", {"a": "y"}, True),
        ("a in (x,y)", {"a": "z"}, False),
        ("a in (x,y)", {}, False),
        ("a notin (x,y)", {"a": "z"}, True),
        ("a notin (x,y)", {"a": "x"}, False),
        ("a notin (x,y)", {}, True),  # notin matches objects lacking the key
        ("a", {"a": ""}, True),
        ("a", {"b": "x"}, False),
        ("!a", {"b": "x"}, True),
        ("!a", {"a": "x"}, False),
        ("a>3", {"a": "4"}, True),
        ("a>3", {"a": "3"}, False),
        ("a>3", {"a": "x"}, False),
        ("a>3", {}, False),
        ("a<3", {"a": "-10"}, True),
        ("a<3", {"a": "3"}, False),
        ("a=", {"a": ""}, True),
        ("a=", {}, False),
        ("a in ()", {"a": ""}, True),
        ("a=b,c=d", {"a": "b", "c": "d"}, True),
        ("a=b,c=d", {"a": "b"}, False),
        ("a=b,!c", {"a": "b"}, True),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "app:monolith",
            'unable to parse requirement: <nil>: Invalid value: "app:monolith": name part '
            + NAME_REGEX_MSG,
        ),
        (
            "a/b/c ?=? def",
            'unable to parse requirement: <nil>: Invalid value: "a/b/c": a qualified name '
            + NAME_REGEX_MSG
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
        ),
        (
            "app.kubernetes_io/name=x",
            'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": '
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ),
        (
            "/a=b",
            'unable to parse requirement: <nil>: Invalid value: "/a": prefix part must be '
            "non-empty",
        ),
        (
            "a=-x",
            'unable to parse requirement: values[0][a]: Invalid value: "-x": a valid label must '
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
        (
            "a=" + "x" * 64,
            "unable to parse requirement: values[0][a]: Invalid value: "
            + '"'
            + "x" * 64
            + '": must be no more than 63 characters',
        ),
        (
            "k>abc",
            "unable to parse requirement: values[0]: Invalid value: \"abc\": for 'Gt', 'Lt' "
            "operators, the value must be an integer",
        ),
        (
            "k<-3",  # a negative number is not a valid label value, as upstream
            'unable to parse requirement: values[0][k]: Invalid value: "-3": a valid label must '
            "be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ),
        ("a,", "found '', expected: identifier after ','"),
        (",a", "found ',', expected: !, identifier, or 'end of string'"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("!x=y", "found '=', expected: ',' or 'end of string'"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("x in", "unable to parse requirement: found '' expected: '('"),
        ("x in (a", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("k=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!", "unable to parse requirement: found '', expected: identifier"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as info:
        parse_label_selector(text)
    assert str(info.value) == message
    assert info.value.message == message


def test_key_name_too_long() -> None:
    with pytest.raises(SelectorError, match="name part must be no more than 63 characters"):
        parse_label_selector("k" * 64)


def test_requires_exact_match() -> None:
    sel = parse_label_selector("a=1,b in (2),c in (3,4),d!=5")
    assert sel.requires_exact_match("a") == "1"
    assert sel.requires_exact_match("b") == "2"
    assert sel.requires_exact_match("c") is None
    assert sel.requires_exact_match("d") is None
    assert sel.requires_exact_match("zz") is None


def test_new_requirement_aggregates_errors() -> None:
    with pytest.raises(SelectorError) as info:
        new_requirement("a", Operator.GREATER_THAN, ["1", "x"])
    msg = str(info.value)
    assert msg.startswith("[values: Invalid value: []string{\"1\", \"x\"}: for 'Gt', 'Lt'")
    assert "values[1]: Invalid value: \"x\": for 'Gt', 'Lt' operators" in msg
    assert msg.endswith("]")


def test_new_requirement_operator_arity() -> None:
    with pytest.raises(SelectorError, match="values set can't be empty"):
        new_requirement("a", Operator.IN, [])
    with pytest.raises(SelectorError, match="exact-match compatibility requires one single value"):
        new_requirement("a", Operator.EQUALS, ["x", "y"])
    with pytest.raises(SelectorError, match="values set must be empty for exists"):
        new_requirement("a", Operator.EXISTS, ["x"])
    with pytest.raises(SelectorError, match=r'^key: Invalid value: "-a": name part'):
        new_requirement("-a", Operator.EXISTS)


def test_selector_object_forms() -> None:
    sel = selector_from_label_selector_object(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["fe", "be"]},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
            ],
        }
    )
    assert str(sel) == "app=web,!canary,env notin (prod),team,tier in (be,fe)"
    assert sel.matches({"app": "web", "tier": "fe", "team": "x"})
    assert not sel.matches({"app": "web", "tier": "fe", "team": "x", "canary": "1"})
    assert not sel.matches({"app": "web", "tier": "fe", "team": "x", "env": "prod"})
    assert sel.matches({"app": "web", "tier": "be", "team": "x", "env": "dev"})


def test_selector_object_nil_and_empty() -> None:
    nothing = selector_from_label_selector_object(None)
    assert not nothing.matches({})
    assert not nothing.matches({"a": "b"})
    assert not nothing.empty
    everything = selector_from_label_selector_object({})
    assert everything.empty
    assert everything.matches({"a": "b"})
    assert LabelSelector.nothing().matches_nothing


def test_selector_object_errors() -> None:
    with pytest.raises(SelectorError, match=r'^"Foo" is not a valid label selector operator$'):
        selector_from_label_selector_object({"matchExpressions": [{"key": "a", "operator": "Foo"}]})
    with pytest.raises(SelectorError, match="values set can't be empty"):
        selector_from_label_selector_object(
            {"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}
        )
    with pytest.raises(SelectorError, match="a valid label must be"):
        selector_from_label_selector_object({"matchLabels": {"a": "bad value"}})


def test_selector_from_set_and_format_labels() -> None:
    sel = selector_from_set({"b": "2", "a": "1"})
    assert str(sel) == "a=1,b=2"
    assert sel.matches({"a": "1", "b": "2", "c": "3"})
    assert not sel.matches({"a": "1"})
    assert selector_from_set(None).empty
    assert format_labels({"b": "2", "a": "1"}) == "a=1,b=2"
    assert format_labels({}) == "<none>"
    assert format_labels(None) == "<none>"
