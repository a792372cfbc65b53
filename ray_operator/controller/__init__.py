"""The RayCluster reconciler, its work queue and expectations."""
