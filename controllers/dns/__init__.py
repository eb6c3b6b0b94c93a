"""Cluster DNS: ``python -m controllers.dns`` answers as CoreDNS's ``kubernetes`` plugin.

Records for ``--cluster-domain`` (``cluster.local``) come from informers on Namespaces,
Services and EndpointSlices over HTTP (:mod:`.backend`); :mod:`.names` parses query names,
:mod:`.answer` builds responses (NXDOMAIN versus NODATA with the SOA, as CoreDNS does) and
:mod:`.server` serves them on UDP and TCP, forwarding other names to upstream resolvers.
"""
