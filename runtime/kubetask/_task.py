"""``@kubetask.task``: a module-level function with a typed interface, still callable directly."""

from __future__ import annotations

from kubetask._errors import TaskDefinitionError
from kubetask._interface import Interface, interface_of
from kubetask._modules import real_module_name
from kubetask._options import TaskOptions
from kubetask._typing import Generic, ParamSpec, TypeVar

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy reads the name itself)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from datetime import timedelta
    from typing import overload

    from kubetask._options import Quantity, Resources, Secret
    from kubetask._resolver import TaskResolverMixin

else:
    from kubetask._typing import overload

P = ParamSpec("P")
R = TypeVar("R")


class Task(Generic[P, R]):
    """A task: the function plus what the runtime needs to run it elsewhere. Calling it runs the function."""

    function: Callable[P, R]
    options: TaskOptions
    retries: int
    timeout: float | None
    description: str | None
    resolver: TaskResolverMixin | None

    def __init__(
        self,
        function: Callable[P, R],
        *,
        name: str | None = None,
        retries: int = 0,
        timeout: float | timedelta | None = None,
        description: str | None = None,
        resolver: TaskResolverMixin | None = None,
        resources: Resources | Mapping[str, Mapping[str, Quantity]] | None = None,
        env: Mapping[str, str] | None = None,
        secrets: Iterable[Secret] | None = None,
        node_selector: Mapping[str, str] | None = None,
        tolerations: Iterable[Mapping[str, object]] | None = None,
        pod_template: str | None = None,
        service_account: str | None = None,
        image: str | None = None,
        cache: bool = False,
        cache_version: str | None = None,
        queue: str | None = None,
    ) -> None:
        if not callable(function) or not hasattr(function, "__code__"):
            raise TaskDefinitionError(
                f"@kubetask.task: expected a Python function, got {function!r} ({type(function).__name__})"
            )
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise TaskDefinitionError(f"@kubetask.task: name: expected a non-empty str, got {name!r}")
        options = TaskOptions(
            retries=retries,
            timeout=timeout,
            resources=resources,
            env=env,
            secrets=secrets,
            node_selector=node_selector,
            tolerations=tolerations,
            pod_template=pod_template,
            service_account=service_account,
            image=image,
            cache=cache,
            cache_version=cache_version,
            queue=queue,
        )
        if description is not None and not isinstance(description, str):
            raise TaskDefinitionError(f"@kubetask.task: description: expected a str, got {description!r}")
        self.function = function
        self._name = name
        self.options = options
        self.retries = retries
        self.timeout = options.timeout
        self.description = description if description is not None else _first_line(function.__doc__)
        self.resolver = resolver
        self._interface: Interface | None = None
        # Look like the function to help() and debuggers (functools.update_wrapper, minus the import).
        self.__module__ = function.__module__
        self.__name__ = function.__name__
        self.__qualname__ = function.__qualname__
        self.__doc__ = function.__doc__
        self.__wrapped__ = function

    @property
    def name(self) -> str:
        """The task's name: given to the decorator, or ``module.function`` with ``__main__`` resolved."""
        if self._name is not None:
            return self._name
        return f"{real_module_name(self.function.__module__)}.{self.function.__name__}"

    @property
    def interface(self) -> Interface:
        """Inputs and outputs from the function's type hints (computed once, on first use)."""
        if self._interface is None:
            self._interface = interface_of(self.function, task=self.name)
        return self._interface

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.function(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<kubetask.Task {self.function.__module__}.{self.function.__qualname__}>"


@overload
def task(function: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(  # noqa: F811 - ruff does not see through the typing stand-in; mypy does
    *,
    name: str | None = None,
    retries: int = 0,
    timeout: float | timedelta | None = None,
    description: str | None = None,
    resolver: TaskResolverMixin | None = None,
    resources: Resources | Mapping[str, Mapping[str, Quantity]] | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[Secret] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, object]] | None = None,
    pod_template: str | None = None,
    service_account: str | None = None,
    image: str | None = None,
    cache: bool = False,
    cache_version: str | None = None,
    queue: str | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(  # noqa: F811 - the implementation of the overloads above
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    timeout: float | timedelta | None = None,
    description: str | None = None,
    resolver: TaskResolverMixin | None = None,
    resources: Resources | Mapping[str, Mapping[str, Quantity]] | None = None,
    env: Mapping[str, str] | None = None,
    secrets: Iterable[Secret] | None = None,
    node_selector: Mapping[str, str] | None = None,
    tolerations: Iterable[Mapping[str, object]] | None = None,
    pod_template: str | None = None,
    service_account: str | None = None,
    image: str | None = None,
    cache: bool = False,
    cache_version: str | None = None,
    queue: str | None = None,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Make a module-level function a task: ``@kubetask.task`` or ``@kubetask.task(retries=2, ...)``.

    name: the task's name (default ``module.function``); retries: how many times a failed run may be
    retried (recoverable failures only); timeout: seconds (or a timedelta) one attempt may take;
    description: defaults to the docstring's first line; resolver: a custom TaskResolverMixin that
    knows how to find this task in the pod (default ``kubetask.default_task_resolver``).

    What the pod gets (each reaches the TaskRun the client creates; a value given to ``kubetask.submit`` or
    on the ``kubetask submit`` command line wins): resources: ``kubetask.Resources(cpu=..., memory=...,
    gpu=...)`` or ``{"requests": {...}, "limits": {...}}``; env: variables; secrets: ``kubetask.Secret``
    keys as variables or files; node_selector and tolerations: where it may run; pod_template: the name of
    a PodTemplate in the namespace to start from; service_account: the pod's ServiceAccount; image: the
    default image. cache: reuse the outputs of a succeeded run with the same task, image, code, inputs and
    ``cache_version`` instead of running again (``spec.cache``; ``kubetask submit --no-cache`` runs anyway).
    queue: the TaskQueue (same namespace) that admits its runs and its maps' items, at most ``maxRunning``
    at once (``spec.queue``; a DNS subdomain name).
    """

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return Task(
            function,
            name=name,
            retries=retries,
            timeout=timeout,
            description=description,
            resolver=resolver,
            resources=resources,
            env=env,
            secrets=secrets,
            node_selector=node_selector,
            tolerations=tolerations,
            pod_template=pod_template,
            service_account=service_account,
            image=image,
            cache=cache,
            cache_version=cache_version,
            queue=queue,
        )

    if function is None:
        return decorate
    return decorate(function)


def _first_line(docstring: str | None) -> str | None:
    if not docstring or not docstring.strip():
        return None
    return docstring.strip().splitlines()[0].strip()
