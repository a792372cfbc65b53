"""Pure desired-state builders (pods, services, status) computed from a RayCluster."""
