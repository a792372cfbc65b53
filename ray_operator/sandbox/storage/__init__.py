"""Where the emulator keeps objects: what etcd and the apiserver's storage layer do for kube-apiserver.

``store`` holds the objects of every resource at one global resourceVersion, with the event history
and the watchers fed from it; ``listing`` answers list reads (selectors, resourceVersion checks and
consistent ``limit``/``continue`` pages); ``selectors`` parses the label and field selectors both
use; ``managedfields`` keeps ``metadata.managedFields`` and finds server-side apply conflicts.
Nothing here knows HTTP, admission or a particular kind, so the request pipeline (``engine``) and
the watch stream (``server``) share one storage.
Decided against: an etcd-like key-value layer with serialized values (every read would decode), and
per-kind stores (one revision counter must order every write, as etcd's does).
"""
