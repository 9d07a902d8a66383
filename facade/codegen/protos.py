"""A protobuf message as the Python expression that builds it: `chat_pb2.Message(role=...)`.

Struct and ListValue fields are written as dicts and lists, which the protobuf constructors
accept; enums by their module-level names (`chat_pb2.ROLE_USER`). What is rendered is the
message the codec built from the OpenAI JSON, so a gRPC snippet sends exactly what the HTTP
route would have sent to core.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor, FileDescriptor
from google.protobuf.message import Message

from codec import struct_to_dict, value_to_python
from facade.codegen.literals import WIDTH, python_literal
from facade.codegen.pysource import call

__all__ = ["ProtoSource"]

_STRUCT = "google.protobuf.Struct"
_LIST_VALUE = "google.protobuf.ListValue"


@dataclass
class ProtoSource:
    """Renders messages, and collects the `from <package> import <module>` lines they need."""

    imports: set[tuple[str, str]] = field(default_factory=set)

    def expression(self, message: Message, indent: int = 0, extra: int = 0) -> str:
        """`message` as an expression on a line indented by `indent` holding `extra` other
        characters."""
        descriptor = cast(Descriptor, message.DESCRIPTOR)  # the upb one has the same API
        if descriptor.full_name == _STRUCT:
            return python_literal(struct_to_dict(message), indent, extra)  # type: ignore[arg-type]
        if descriptor.full_name == _LIST_VALUE:
            values = [value_to_python(item) for item in message.values]  # type: ignore[attr-defined]
            return python_literal(values, indent, extra)
        arguments = [
            (field.name, self._field(field, value, indent + 4, len(field.name) + 2))
            for field, value in message.ListFields()
        ]
        return call(self._name(descriptor), arguments, indent, extra)

    def import_lines(self) -> list[str]:
        """The import statements of every module the rendered messages name, sorted."""
        return [f"from {package} import {module}" for package, module in sorted(self.imports)]

    def _field(self, field: FieldDescriptor, value: Any, indent: int, extra: int) -> str:
        if not field.is_repeated:
            return self._single(field, value, indent, extra)
        items = [self._single(field, item, indent + 4, 1) for item in value]
        flat = f"[{', '.join(items)}]"
        if indent + extra + len(flat) <= WIDTH and "\n" not in flat:
            return flat
        inner = " " * (indent + 4)
        return "[\n" + "".join(f"{inner}{item},\n" for item in items) + " " * indent + "]"

    def _single(self, field: FieldDescriptor, value: Any, indent: int, extra: int) -> str:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            return self.expression(value, indent, extra)
        if field.type == FieldDescriptor.TYPE_ENUM:
            assert field.enum_type is not None
            return self._enum(field.enum_type, value)
        return python_literal(value, indent, extra)

    def _enum(self, enum: EnumDescriptor, number: int) -> str:
        # An enum's values are attributes of what holds it: the module (`chat_pb2.ROLE_USER`)
        # or, for a nested enum, the message class.
        holder = enum.containing_type
        scope = self._module(enum.file) if holder is None else self._name(holder)
        return f"{scope}.{enum.values_by_number[number].name}"

    def _name(self, descriptor: Descriptor) -> str:
        path = descriptor.full_name.removeprefix(f"{descriptor.file.package}.")
        return f"{self._module(descriptor.file)}.{path}"

    def _module(self, file: FileDescriptor) -> str:
        package, _, name = file.name.removesuffix(".proto").rpartition("/")
        module = f"{name}_pb2"
        self.imports.add((package.replace("/", "."), module))
        return module
