"""SPDY/3.1, as much of it as Kubernetes' streaming uses: frames (:mod:`.frames`) and a
server session with streams and flow-control windows (:mod:`.session`)."""
