"""The request model, generated from the bundle's schema, and the parsing of a request body.

One pydantic model per bundle: a field per feature column (aliased to the column's name, which need not be a
Python identifier), typed by role, required but nullable (null = a missing value). Extra keys are ignored, like
extra columns in a file. The body is validated straight from its JSON bytes by pydantic-core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AllowInfNan,
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    Strict,
    TypeAdapter,
    ValidationError,
    create_model,
)

from trainwright.data import FEATURE_ROLES, Role, Schema

__all__ = ["BodyError", "RequestModels", "field_errors", "request_models"]

MAX_ROWS = 10_000

Number = Annotated[float, Strict(), AllowInfNan(False)]  # a JSON number: not a string, not a boolean, finite

_TYPES: dict[Role, Any] = {
    Role.NUMERIC: Number | None,
    Role.CATEGORICAL: str | int | FiniteFloat | bool | None,
    Role.TEXT: str | None,
    Role.DATETIME: datetime | date | str | None,
    Role.IMAGE: str | None,  # a path the server can read
    Role.AUDIO: str | None,  # a path of an audio clip the server can read
}


class BodyError(Exception):
    """The request body is not a record or a list of records; ``errors`` name the field and the problem."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the request body")
        self.errors = errors


@dataclass(frozen=True)
class RequestModels:
    record: type[BaseModel]
    one: TypeAdapter[Any]
    many: TypeAdapter[Any]
    columns: tuple[str, ...]

    def parse(self, body: bytes) -> list[dict[str, Any]]:
        """The rows of a JSON body holding one record or a list of 1..MAX_ROWS records."""
        start = body.lstrip()[:1]
        if start not in (b"{", b"["):
            raise BodyError([{"field": "body", "problem": "the body must be a JSON object (one record) or a list of "
                              "objects", "type": "body_shape"}])
        adapter = self.one if start == b"{" else self.many
        try:
            parsed = adapter.validate_json(body)
        except ValidationError as exc:
            raise BodyError(field_errors(exc)) from None
        records = [parsed] if start == b"{" else parsed
        return [r.model_dump(by_alias=True) for r in records]

    def json_schema(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the request body's schema, the component schemas it refers to) for the OpenAPI document."""
        union: TypeAdapter[Any] = TypeAdapter(self.record | _many(self.record))  # type: ignore[operator]
        schema = union.json_schema(ref_template="#/components/schemas/{model}")
        defs = schema.pop("$defs", {})
        return schema, defs


def _many(record: type[BaseModel]) -> Any:
    return Annotated[list[record], Field(min_length=1, max_length=MAX_ROWS)]  # type: ignore[valid-type]


def request_models(schema: Schema) -> RequestModels:
    fields: dict[str, Any] = {}
    columns = []
    for i, col in enumerate(schema.columns):
        if col.role not in FEATURE_ROLES:
            continue
        columns.append(col.name)
        fields[f"f{i}"] = (_TYPES[col.role], Field(..., alias=col.name, description=f"{col.role.value} ({col.reason})"))
    config = ConfigDict(extra="ignore", populate_by_name=False, title="Record")
    record = create_model("Record", __config__=config, **fields)
    return RequestModels(record, TypeAdapter(record), TypeAdapter(_many(record)), tuple(columns))


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as {field, problem, type}: ``field`` is the column name, with the row index in a list.
    The several errors of one union-typed field (a category may be a string, number or boolean) become one."""
    grouped: dict[str, list[Any]] = {}
    for err in exc.errors(include_url=False, include_input=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _TYPE_TAGS)]
        field = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "body"
        grouped.setdefault(field, []).append(err)
    out = []
    for field, errs in grouped.items():
        if len(errs) == 1:
            out.append({"field": field, "problem": errs[0]["msg"], "type": errs[0]["type"]})
        else:
            kinds = " or ".join(dict.fromkeys(e["msg"].removeprefix("Input should be ") for e in errs))
            out.append({"field": field, "problem": f"Input should be {kinds}", "type": "union_type"})
    return out


_TYPE_TAGS = {"str", "int", "float", "bool", "datetime", "date", "none", "function-after[check_finite(), float]",
              "function-after[check_finite(), constrained-float]"}
