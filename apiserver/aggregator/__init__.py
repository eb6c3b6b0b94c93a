"""kube-aggregator inside the apiserver: APIServices backed by a Service really route.

* :mod:`.index` — the APIServices of the watch cache as routing entries;
* :mod:`.resolve` — a Service to the address requests go to;
* :mod:`.transport` — TLS to the extension server and the headers naming the user;
* :mod:`.proxy` — proxying ``/apis/<group>/<version>/…`` to the extension server;
* :mod:`.discovery` — the aggregated groups in ``/apis`` (legacy and aggregated);
* :mod:`.availability` — the ``Available`` condition of every APIService;
* :mod:`.trust` — the ``extension-apiserver-authentication`` ConfigMap;
* :mod:`.server` — all of it for one apiserver.
"""
