"""A flaky task that asks for a retry with kubetask.RecoverableError until its attempt succeeds.

The attempt number comes from kubetask.current_context() (KUBETASK_ATTEMPT, set by the operator on each
retry). Locally, attempt 1 fails with a recoverable error:

    kubetask run examples/retryable/retryable.py:flaky_fetch -i succeed_on_attempt=1   # succeeds
    kubetask run examples/retryable/retryable.py:flaky_fetch                           # recoverable failure
"""

import kubetask


@kubetask.task(retries=3)
def flaky_fetch(succeed_on_attempt: int = 2) -> dict[str, int]:
    """Fail recoverably before `succeed_on_attempt`, as a service that is still warming up would."""
    attempt = kubetask.current_context().attempt
    if attempt < succeed_on_attempt:
        raise kubetask.RecoverableError(f"service not ready on attempt {attempt}; retry")
    return {"attempt": attempt}
