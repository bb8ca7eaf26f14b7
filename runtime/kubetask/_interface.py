"""A task's typed interface: its named inputs and outputs, and the one public way to convert their values.

Read from the function's code object and ``__annotations__`` (no :mod:`inspect`, see :mod:`kubetask._hints`);
every hint is compiled into a codec (:mod:`kubetask._codec`) when the interface is made, so an unsupported
type fails at definition time. The pod (``decode_inputs``, ``encode_outputs``), the client
(``encode_inputs``, ``check_inputs``) and the command line (``parse_assignments``) all convert through here:
a value means the same thing everywhere, and is refused with the same message everywhere.
"""

from __future__ import annotations

import os

from kubetask._codec import Codec, Conversion, FileTransfer, ValueProblem, codec_for, is_remote
from kubetask._errors import InputError, OutputError, TaskDefinitionError, UsageError
from kubetask._hints import NONE_TYPE, describe_hint, is_named_tuple_type, normalize, show, type_hints

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Protocol

    class Upload(Protocol):
        """Stores a local file (or directory) of a submission where pods can read it; returns its URI."""

        def __call__(self, path: str, *, directory: bool, key: str) -> str: ...


_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: object = _Required()  # the default of a parameter that has none


class Parameter:
    """One input: its name, type hint, default (or REQUIRED) and whether it is positional-only."""

    __slots__ = ("codec", "default", "hint", "name", "positional_only")

    def __init__(self, name: str, hint: object, *, default: object = REQUIRED, positional_only: bool = False):
        self.name = name
        self.hint = hint
        self.default = default
        self.positional_only = positional_only
        self.codec: Codec = codec_for(hint, where=f"input {name!r}")

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def __repr__(self) -> str:
        default = "" if self.required else f" = {self.default!r}"
        return f"<Parameter {self.name}: {self.codec.description}{default}>"


# How a return value maps to named outputs.
RETURNS_NOTHING = "nothing"  # -> None: outputs {}
RETURNS_ONE = "one"  # -> T: o0
RETURNS_TUPLE = "tuple"  # -> tuple[A, B]: o0, o1
RETURNS_NAMED = "named"  # -> a NamedTuple: its field names
RETURNS_ANY = "any"  # no annotation: {} for None, o0, o1... for a tuple, else o0
RETURNS_ANY_TUPLE = "any-tuple"  # -> tuple: o0, o1... as many as returned


class Interface:
    """Named, typed inputs and outputs of a task, and the conversions of their values."""

    __slots__ = ("inputs", "output_codecs", "outputs", "returns", "task")

    def __init__(
        self,
        inputs: dict[str, Parameter],
        outputs: dict[str, object],
        returns: str,
        *,
        task: str = "the task",
    ) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.returns = returns
        self.task = task
        self.output_codecs = {
            name: codec_for(hint, where=f"output {name!r}") for name, hint in outputs.items()
        }

    def __repr__(self) -> str:
        inputs = ", ".join(f"{p.name}: {p.codec.description}" for p in self.inputs.values())
        outputs = ", ".join(f"{name}: {codec.description}" for name, codec in self.output_codecs.items())
        return f"<Interface ({inputs}) -> ({outputs})>"

    # ------------------------------------------------------------ in the pod

    def decode_inputs(
        self, document: Mapping[str, object], *, transfer: FileTransfer | None = None
    ) -> dict[str, object]:
        """The inputs document (``{name: JSON value}``) as the task's Python values; file inputs are
        fetched through *transfer* (default: local paths only). InputError names the input and the path
        inside it, the expected type and the bad value."""
        unknown = sorted(set(document) - set(self.inputs))
        if unknown:
            raise InputError(
                f"inputs document: unknown input(s) {', '.join(map(repr, unknown))}; the task takes "
                f"{', '.join(map(repr, self.inputs)) or 'no inputs'}"
            )
        missing = [name for name, p in self.inputs.items() if p.required and name not in document]
        if missing:
            raise InputError(f"inputs document: missing required input(s) {', '.join(map(repr, missing))}")
        transfer = transfer if transfer is not None else FileTransfer()
        values = {}
        for name, value in document.items():
            try:
                values[name] = self.inputs[name].codec.decode(value, Conversion(transfer, name=name), 1)
            except ValueProblem as problem:
                raise InputError(f"input '{problem.path(name)}': {problem.detail}") from None
        return values

    def encode_outputs(self, returned: object, *, transfer: FileTransfer | None = None) -> dict[str, object]:
        """The function's return value as the outputs document (``{name: JSON value}``); file outputs
        are stored through *transfer* (default: reported by their absolute local path)."""
        transfer = transfer if transfer is not None else FileTransfer()
        outputs = {}
        for name, value in self.split_outputs(returned).items():
            codec = self.output_codecs.get(name) or codec_for(object, where="output")
            try:
                outputs[name] = codec.encode(value, Conversion(transfer, name=name), 1)
            except ValueProblem as problem:
                raise OutputError(f"output '{problem.path(name)}': {problem.detail}") from None
        return outputs

    # ------------------------------------------------------------ before submitting

    def encode_inputs(
        self,
        values: Mapping[str, object],
        *,
        upload: Upload | None = None,
        local_paths: bool = False,
        complete: bool = True,
    ) -> dict[str, object]:
        """Python values by input name as the JSON values of a TaskRun's ``spec.inputs``, every input
        checked (unknown, missing, wrong type anywhere inside) before anything is created.

        A File, Directory or Path given as a remote URI (``s3://...``) or with a ``uri`` passes as that URI.
        A local one is stored with *upload* (``upload(path, directory=..., key=...) -> uri``); without one it
        is refused, naming what to do (a pod cannot read this machine's files), unless *local_paths* (a
        local run) keeps it as its absolute path. ``complete=False`` allows required inputs to be missing
        (the rest come from elsewhere). Integers must fit in 64 bits: the Kubernetes API carries
        larger ones as floats. InputError names the input, the path inside it, the expectation and value.
        """
        self._check_names(values, complete=complete)
        transfer = _SubmissionTransfer(upload, local_paths=local_paths)
        encoded = {}
        for name, value in values.items():
            try:
                encoded[name] = self.inputs[name].codec.encode(
                    value, Conversion(transfer, name=name, int64=True), 1
                )
            except ValueProblem as problem:
                raise InputError(f"input '{problem.path(name)}': {problem.detail}") from None
        return encoded

    def check_inputs(self, document: Mapping[str, object]) -> dict[str, object]:
        """JSON input values (an inputs file) as Python values, checked exactly as the pod will decode them
        but without fetching any file (a local one must exist); ``encode_inputs`` then prepares them for
        submission. InputError names the input, the path inside it, the expected type and the bad value."""
        self._check_names(document)
        values = {}
        for name, value in document.items():
            try:
                values[name] = self.inputs[name].codec.decode(value, Conversion(_CHECK, name=name), 1)
            except ValueProblem as problem:
                raise InputError(f"input '{problem.path(name)}': {problem.detail}") from None
        return values

    def parse_assignments(self, assignments: Sequence[str]) -> dict[str, object]:
        """``["a=1", "p={\"x\": 2}"]`` from ``-i`` as Python values, each parsed by its input's type
        (structured types as JSON) and checked as the pod would decode it. A local file must exist.
        UsageError names the assignment. Required inputs are not checked (an inputs file may give them)."""
        values: dict[str, object] = {}
        for assignment in assignments:
            name, separator, text = assignment.partition("=")
            if not separator or not name:
                raise UsageError(f"-i: expected NAME=VALUE, got {assignment!r}")
            if name not in self.inputs:
                expected = ", ".join(self.inputs) or "no inputs"
                raise UsageError(f"-i {name}: the task has no input {name!r}; it takes {expected}")
            codec = self.inputs[name].codec
            try:
                document = codec.parse_text(text)
            except ValueProblem as problem:
                raise UsageError(f"-i {name}={text}: {problem.detail}") from None
            try:
                values[name] = codec.decode(document, Conversion(_CHECK, name=name), 1)
            except ValueProblem as problem:
                raise UsageError(
                    f"-i {name}={text}: input '{problem.path(name)}': {problem.detail}"
                ) from None
        return values

    def _check_names(self, values: Mapping[str, object], *, complete: bool = True) -> None:
        for name in values:
            if name not in self.inputs:
                raise InputError(
                    f"input {name!r}: task {self.task!r} has no such input; its inputs: "
                    f"{list(self.inputs) or 'none'}"
                )
        for name, parameter in self.inputs.items():
            if complete and parameter.required and name not in values:
                raise InputError(f"input {name!r} is required by task {self.task!r} and was not given")

    # ------------------------------------------------------------ calling the function

    def call_arguments(self, values: Mapping[str, object]) -> tuple[list[object], dict[str, object]]:
        """Positional and keyword arguments for the function from input values by name."""
        args = [values[p.name] for p in self.inputs.values() if p.positional_only and p.name in values]
        kwargs = {name: value for name, value in values.items() if not self.inputs[name].positional_only}
        return args, kwargs

    def split_outputs(self, returned: object) -> dict[str, object]:
        """The function's return value as ``{output name: value}``."""
        if self.returns == RETURNS_NOTHING:
            if returned is not None:
                raise OutputError(f"output: the task is annotated '-> None' but returned {show(returned)}")
            return {}
        if self.returns == RETURNS_ANY:
            if isinstance(returned, tuple) and not hasattr(returned, "_fields"):
                return {f"o{index}": value for index, value in enumerate(returned)}
            return {} if returned is None else {"o0": returned}
        if self.returns == RETURNS_ONE:
            return {"o0": returned}
        if not isinstance(returned, tuple):
            raise OutputError(f"output: expected a tuple of {len(self.outputs)} values, got {show(returned)}")
        if self.returns == RETURNS_ANY_TUPLE:
            return {f"o{index}": value for index, value in enumerate(returned)}
        if len(returned) != len(self.outputs):
            raise OutputError(
                f"output: expected a tuple of {len(self.outputs)} values ({', '.join(self.outputs)}), "
                f"got {len(returned)}: {show(returned)}"
            )
        return dict(zip(self.outputs, returned, strict=True))


class _CheckingTransfer(FileTransfer):
    """Checks file values without moving them: a URI passes, a local path must exist (and remembers no
    URI, so encoding it for submission uploads it)."""

    def fetch(self, uri: str, *, directory: bool, key: str) -> str:  # noqa: ARG002 - the protocol's
        if is_remote(uri):
            return uri
        path = uri.removeprefix("file://")
        if not os.path.exists(path):
            raise ValueProblem(f"{uri!r} is neither an existing local path nor a URI such as s3://bucket/key")
        if directory != os.path.isdir(path):
            raise ValueProblem(f"expected a {'directory' if directory else 'file'}: {uri!r}")
        return os.path.abspath(path)

    def source_uri(self, value: str) -> str | None:
        return value if is_remote(value) else None


_CHECK = _CheckingTransfer()


class _SubmissionTransfer(FileTransfer):
    """Local file inputs of a submission: uploaded, kept as local paths for a local run, or refused."""

    def __init__(self, upload: Upload | None, *, local_paths: bool) -> None:
        self.upload = upload
        self.local_paths = local_paths

    def store(self, path: str, *, directory: bool, key: str) -> str:
        if self.local_paths:
            return os.path.abspath(path)
        if self.upload is None:
            raise ValueProblem(
                f"{path!r} is a {'directory' if directory else 'file'} on this machine, which a pod cannot "
                "read: give a URI the cluster can read (s3://bucket/key, or kubetask.File(uri=...)), or "
                "submit with an output prefix (output_prefix=..., --output-prefix) to have it uploaded there"
            )
        return self.upload(path, directory=directory, key=key)


def interface_of(function: Callable[..., object], *, task: str | None = None) -> Interface:
    """Read the interface of *function* from its signature and type hints; *task* names it in messages."""
    code = getattr(function, "__code__", None)
    if code is None:
        raise TaskDefinitionError(f"{function!r} is not a Python function: it has no code object")
    label = getattr(function, "__qualname__", repr(function))
    if code.co_flags & (_CO_VARARGS | _CO_VARKEYWORDS):
        raise TaskDefinitionError(
            f"task {label!r}: *args and **kwargs are not supported; every input must be a named parameter"
        )
    hints = type_hints(function, label=f"task {label!r}")
    positional = code.co_argcount
    names = code.co_varnames[: positional + code.co_kwonlyargcount]
    defaults = dict(zip(names[positional - len(function.__defaults__ or ()) : positional],
                        function.__defaults__ or (), strict=True))  # fmt: skip
    defaults.update(function.__kwdefaults__ or {})
    inputs = {
        name: Parameter(
            name,
            normalize(hints.get(name, object), where=f"input {name!r}"),
            default=defaults.get(name, REQUIRED),
            positional_only=index < code.co_posonlyargcount,
        )
        for index, name in enumerate(names)
    }
    returns, outputs = _outputs(hints)
    return Interface(inputs, outputs, returns, task=task or label)


def describe(hint: object) -> str:
    """A type as a user writes it: ``int``, ``list[int]``, ``int | None``, ``Color``."""
    try:
        return codec_for(normalize(hint, where="type"), where="type").description
    except TaskDefinitionError:
        return describe_hint(hint)


def _outputs(hints: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    if "return" not in hints:
        return RETURNS_ANY, {}
    hint = normalize(hints["return"], where="output")
    if hint is NONE_TYPE:
        return RETURNS_NOTHING, {}
    if hint is tuple:
        return RETURNS_ANY_TUPLE, {}
    if is_named_tuple_type(hint):
        assert isinstance(hint, type)
        field_hints = type_hints(hint, label=f"NamedTuple {hint.__name__}")
        return RETURNS_NAMED, {
            name: normalize(field_hints.get(name, object), where=f"output {name!r}")
            for name in hint._fields  # type: ignore[attr-defined]
        }
    if getattr(hint, "__origin__", None) is tuple:
        members = hint.__args__  # type: ignore[attr-defined]
        if members and members[-1] is not Ellipsis and members != ((),):
            return RETURNS_TUPLE, {
                f"o{index}": normalize(member, where=f"output 'o{index}'")
                for index, member in enumerate(members)
            }
    return RETURNS_ONE, {"o0": hint}
