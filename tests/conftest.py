"""Shared fixtures for the whole suite.

The local-cluster fixtures (a kubeconfig for end-to-end tests, a fresh local cluster by default or a real
cluster with ``--kubeconfig``) ship in the package as a pytest plugin, because they are a feature too.
Each section below belongs to one part of the product; keep fixtures in their section.
"""

from __future__ import annotations

# ---------------------------------------------------------------- runtime fixtures

# ---------------------------------------------------------------- local cluster fixtures

# ---------------------------------------------------------------- operator fixtures

# ---------------------------------------------------------------- chart, manifests and client fixtures
