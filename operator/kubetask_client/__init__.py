"""kubetask_client."""
__all__: list[str] = []
