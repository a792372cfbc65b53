"""ray-operator: reconciles ``ray.io/v1`` RayCluster objects into Ray head and worker pods.

The package is layered (``docs/architecture.md``; the contracts in ``pyproject.toml`` enforce it):
``apimachinery`` holds the Kubernetes primitives, ``api`` the pure RayCluster model and rules,
``builders`` the pure desired state, ``kube`` the API access, ``controller`` the reconciler and
``sandbox`` the API-server emulator used for local runs and tests.

``__version__`` is read from the installed distribution, so ``pyproject.toml`` is its one source.
"""

from importlib import metadata

try:
    __version__ = metadata.version("ray-operator")
except metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
