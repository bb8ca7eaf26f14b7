"""kubetask: run typed Python tasks on Kubernetes."""

__all__: list[str] = []
