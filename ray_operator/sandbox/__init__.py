"""A Kubernetes API-server emulator (and fake kubelet) that kubectl and kubernetes_asyncio use as a real cluster.

It exists because no machine this project is developed or tested on runs kube-apiserver; it
follows the real server's status codes and error texts so that what passes here passes there.
"""
