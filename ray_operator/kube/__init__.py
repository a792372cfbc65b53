"""Access to the Kubernetes API: client factory, reflectors, leader election, events."""
