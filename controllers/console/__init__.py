"""The live web console: ``python -m controllers.console``.

One page showing, for every namespace, client → Service → endpoints → pods as a diagram,
with the nodes, updated from watches. :mod:`.snapshot` turns the informer caches into the
page's document, one namespace at a time, :mod:`.hub` keeps it per namespace and rebuilds
the namespaces that changed (coalesced) for the event streams (a snapshot, then deltas),
:mod:`.proxymetrics` reads connection counts per endpoint from the userspace kube-proxies,
:mod:`.server` serves the page, the events and object YAML, :mod:`.metrics` the console's
own series, and :mod:`.app` is the process.
The page itself is plain HTML, CSS and JavaScript in ``static/`` (no build step).
"""
