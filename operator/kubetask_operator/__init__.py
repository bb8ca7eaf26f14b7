"""kubetask_operator."""
__all__: list[str] = []
