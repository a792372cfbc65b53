"""ray-operator: reconciles ``ray.io/v1`` RayCluster objects into Ray head and worker pods.

The package is layered (see docs/architecture in the README): ``api`` holds the pure RayCluster
model and rules, ``builders`` the pure desired state, ``kube`` the API access, ``controller`` the
reconciler and ``sandbox`` the API-server emulator used for local runs and tests.
"""

__version__ = "0.1.0"
