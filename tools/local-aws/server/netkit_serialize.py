"""Speed for moto's response serializer: the same bytes, without redoing the same lookups.

moto 5 serializes every response from the botocore model. For each member of each structure it
builds a context, asks six alias providers which attribute names to try and scans every response
transformer with `endswith`. Those answers depend only on the kind of object, the shape and the
key, never on the values, so they can be computed once. With a group of 100 instances,
DescribeInstances took 0.5-1.2 s under the harness's global lock. A burst of 200 launches, each
listing its group once, spent minutes there and timed out. Real EC2 answers the same call in
milliseconds.

`install()` replaces `ResponseSerializer.get_value` with a memoised one. The attribute names tried
and the transformer applied are those of moto's own `AttributePicker` for the same (picker class,
alias providers, object type, shape, parent shape, key) and key path. The value read is the same.
`check_serialize.py` compares the bytes of both on every Describe the packages use, in the test
suite (tools/local-aws/test/serialize.test.ts).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import quoteattr

import xmltodict
from moto.core import serialize as moto_serialize
from moto.core.utils import MISSING, get_value

_original_get_value = moto_serialize.ResponseSerializer.get_value
_original_xml_body = moto_serialize.BaseXMLSerializer._serialize_body
_original_ec2_body = moto_serialize.EC2Serializer._serialize_body

# (picker class, id(alias providers), object type, id(shape), id(parent), key) ->
# (shape, parent, alias providers, attribute names). The entry holds the objects whose ids form
# the key, so an id is never reused by another object while its entry exists.
_NAMES: dict[tuple[Any, ...], tuple[Any, Any, Any, tuple[str, ...]]] = {}
# (id(transformers), key path) -> (transformers, transform or None)
_TRANSFORMS: dict[tuple[int, str], tuple[Any, Any]] = {}


def _names(serializer: Any, picker: Any, value: Any, key: str, shape: Any) -> tuple[str, ...]:
    parent = getattr(shape, "parent", None)
    providers = picker.alias_providers
    cache_key = (type(picker), id(providers), type(value), id(shape), id(parent), key)
    hit = _NAMES.get(cache_key)
    if hit is not None and hit[0] is shape and hit[1] is parent and hit[2] is providers:
        return hit[3]
    context = moto_serialize.AttributePickerContext(
        obj=value,
        key=key,
        shape=shape,
        operation_model=serializer.operation_model,
        service_model=serializer.operation_model.service_model,
        key_path=".".join(serializer.path),
    )
    names = tuple(picker.get_possible_keys(context))
    _NAMES[cache_key] = (shape, parent, providers, names)
    return names


def _transform(serializer: Any, transformers: dict[str, Any], key: str) -> Any:
    key_path = f"{'.'.join(serializer.path)}.{key}"
    cache_key = (id(transformers), key_path)
    hit = _TRANSFORMS.get(cache_key)
    if hit is not None and hit[0] is transformers:
        return hit[1]
    found = None
    for transform_path, transform in transformers.items():
        if key_path.endswith(transform_path):
            found = transform
            break
    _TRANSFORMS[cache_key] = (transformers, found)
    return found


def memoised_get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
    """`ResponseSerializer.get_value` with `AttributePicker.__call__`'s lookups memoised."""
    picker = self._value_picker
    if type(picker).__call__ is not moto_serialize.AttributePicker.__call__:
        return _original_get_value(self, value, key, shape)
    result = None
    for name in _names(self, picker, value, key, shape):
        found = get_value(value, name, MISSING)
        if found is not MISSING:
            result = found
            break
    transformers = picker.response_transformers
    if transformers:
        transform = _transform(self, transformers, key)
        if transform is not None:
            result = transform(result)
    return result


class _Unsupported(Exception):
    """A body uses an xmltodict feature the fast writer does not (comments, text nodes...)."""


_VALID_NAMES: set[str] = set()


def _check_name(name: Any) -> str:
    if name not in _VALID_NAMES:
        if not isinstance(name, str) or name.startswith(("#", "@")):
            raise _Unsupported(name)
        xmltodict._validate_name(name, "element")  # raises ValueError as xmltodict would
        _VALID_NAMES.add(name)
    return name


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _escape(text: str) -> str:
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


class _XmlWriter:
    """xmltodict.unparse(pretty=False, short_empty_elements=True) for the dicts moto builds: elements,
    lists, scalars and `@` attributes. Anything else raises _Unsupported and xmltodict writes it."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pending = False

    def element(self, key: Any, value: Any) -> None:
        name = _check_name(key)
        values = value if hasattr(value, "__iter__") and not isinstance(value, (str, bytes, bytearray, memoryview, dict)) else [value]
        for item in values:
            self._one(name, item)

    def _one(self, name: str, item: Any) -> None:
        if item is None:
            item = {}
        elif isinstance(item, str):
            item = {"#text": item}
        elif not isinstance(item, dict):
            item = {"#text": _text(item)}
        cdata = None
        attrs: list[tuple[str, str]] = []
        children: list[tuple[Any, Any]] = []
        for child_key, child_value in item.items():
            if child_key == "#text":
                cdata = None if child_value is None else _text(child_value)
            elif isinstance(child_key, str) and child_key.startswith("@"):
                if child_key == "@xmlns" and isinstance(child_value, dict):
                    raise _Unsupported(child_key)
                attr = child_key[1:]
                xmltodict._validate_name(attr, "attribute")
                attrs.append((attr, "" if child_value is None else _text(child_value)))
            elif child_key == "#comment":
                raise _Unsupported(child_key)
            elif not (isinstance(child_value, list) and not child_value):
                children.append((child_key, child_value))
        self._finish_pending()
        parts = self.parts
        parts.append("<" + name)
        for attr, text in attrs:
            parts.append(f" {attr}={quoteattr(text)}")
        self.pending = True
        for child_key, child_value in children:
            self.element(child_key, child_value)
        if cdata:
            self._finish_pending()
            parts.append(_escape(cdata))
        if self.pending:
            parts.append("/>")
            self.pending = False
        else:
            parts.append(f"</{name}>")

    def _finish_pending(self) -> None:
        if self.pending:
            self.parts.append(">")
            self.pending = False


def fast_unparse(body: Any, full_document: bool) -> str:
    """The bytes of xmltodict.unparse(body, full_document, short_empty_elements=True, pretty=False)."""
    if not isinstance(body, dict):
        raise _Unsupported(type(body))
    writer = _XmlWriter()
    if full_document:
        if len(body) != 1:
            raise _Unsupported("roots")
        writer.parts.append('<?xml version="1.0" encoding="utf-8"?>\n')
    for key, value in body.items():
        if full_document and hasattr(value, "__iter__") and isinstance(value, list) and len(value) > 1:
            raise _Unsupported("roots")
        writer.element(key, value)
    return "".join(writer.parts)


def _fast_body(original: Any, self: Any, body: Any, full_document: bool) -> str:
    if self.pretty_print:
        return original(self, body)
    try:
        return fast_unparse(body, full_document=full_document)
    except _Unsupported:
        return original(self, body)


def fast_xml_body(self: Any, body: Any) -> str:
    return _fast_body(_original_xml_body, self, body, full_document=False)


def fast_ec2_body(self: Any, body: Any) -> str:
    return _fast_body(_original_ec2_body, self, body, full_document=True)


def install() -> None:
    moto_serialize.ResponseSerializer.get_value = memoised_get_value
    moto_serialize.BaseXMLSerializer._serialize_body = fast_xml_body
    moto_serialize.EC2Serializer._serialize_body = fast_ec2_body


def uninstall() -> None:
    moto_serialize.ResponseSerializer.get_value = _original_get_value
    moto_serialize.BaseXMLSerializer._serialize_body = _original_xml_body
    moto_serialize.EC2Serializer._serialize_body = _original_ec2_body
