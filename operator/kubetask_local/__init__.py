"""kubetask_local."""
__all__: list[str] = []
