// kubemu console: renders the server's document (Server-Sent Events: a snapshot, then
// deltas of the namespaces that changed) as client -> Service -> endpoints -> pods
// diagrams, with nodes; object YAML on click. The browser reconnects a broken stream with
// Last-Event-ID on its own: the server continues with deltas or sends a snapshot.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';

// el('div', {class: 'x', 'data-y': 1}, child...): an element with attributes and children.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// A clickable box for an API object: data-resource/namespace/name say what to show.
function objectBox(cls, resource, namespace, name, ...children) {
  return el('div', {class: 'box ' + cls, 'data-resource': resource,
                    'data-namespace': namespace, 'data-name': name}, ...children);
}

function stateOf(ready, terminating) {
  return terminating ? 'terminating' : (ready ? 'ready' : 'not-ready');
}

function portText(p) {
  const target = p.targetPort !== undefined && p.targetPort !== p.port ? '→' + p.targetPort : '';
  const node = p.nodePort ? ' node:' + p.nodePort : '';
  return (p.name ? p.name + ' ' : '') + p.port + target + '/' + p.protocol + node;
}

// The nodes' InternalIPs, where NodePorts answer (set by drawNodes).
let nodeIPs = [];

function clientBox(svc) {
  const lines = [];
  for (const p of svc.ports) {
    if (svc.clusterIP && svc.clusterIP !== 'None') lines.push(svc.clusterIP + ':' + p.port);
    if (p.nodePort) {
      for (const ip of nodeIPs.length ? nodeIPs : ['<node IP>']) lines.push(ip + ':' + p.nodePort);
    }
    for (const ip of svc.loadBalancer) lines.push(ip + ':' + p.port);
  }
  if (svc.type === 'ExternalName') lines.push(svc.name + ' → ' + svc.externalName);
  if (svc.clusterIP === 'None') lines.push('DNS: ' + svc.name + ' (headless)');
  return el('div', {class: 'box client', 'data-role': 'client'},
            el('div', {class: 'label'}, 'client'),
            ...lines.map((line) => el('div', {class: 'detail'}, line)));
}

function serviceBox(ns, svc) {
  const readySet = svc.endpoints.filter((e) => e.ready).map((e) => e.address);
  return objectBox('service', 'services', ns, svc.name,
    el('span', {class: 'type'}, svc.type),
    el('div', {class: 'label'}, 'svc/' + svc.name),
    el('div', {class: 'detail'}, svc.type === 'ExternalName' ? svc.externalName
                                  : 'ClusterIP ' + (svc.clusterIP || '—')),
    ...svc.ports.map((p) => el('div', {class: 'detail'}, portText(p))),
    svc.sessionAffinity !== 'None'
      ? el('div', {class: 'detail'}, 'affinity: ' + svc.sessionAffinity) : null,
    el('div', {class: 'ready-set', 'data-ready-set': readySet.join(' ')},
       'ready ' + svc.ready + '/' + svc.total +
       (readySet.length ? ': ' + readySet.join(', ') : '')));
}

// As the pods' badge: Ready, NotReady or Terminating (EndpointSlice conditions), and
// "serving" beside a terminating endpoint that still serves (conditions.serving).
function endpointBadges(ep) {
  const badges = [el('span', {class: 'badge'}, ep.terminating ? 'Terminating'
                                               : (ep.ready ? 'Ready' : 'NotReady'))];
  if (ep.terminating && ep.serving) badges.push(el('span', {class: 'badge serving'}, 'serving'));
  return badges;
}

function endpointBox(ns, ep) {
  const state = stateOf(ep.ready, ep.terminating);
  let active = 0, total = 0, counted = false;
  for (const c of Object.values(ep.connections)) { active += c.active; total += c.total; counted = true; }
  const box = objectBox('endpoint ' + state, 'endpointslices', ns, ep.slice,
    counted ? el('span', {class: 'conns', title: 'connections: active / total'},
                 active + ' open · ' + total + ' total') : null,
    el('div', {class: 'label'}, ep.address, ...endpointBadges(ep)),
    el('div', {class: 'detail'}, ep.ports.map((p) => p.port + '/' + p.protocol).join(', ') +
                                 ' · ' + state),
    ep.node ? el('div', {class: 'detail'}, 'node ' + ep.node) : null);
  box.dataset.address = ep.address;
  box.dataset.state = state;
  box.dataset.serving = String(ep.serving);
  box.dataset.pod = ep.pod;
  box.dataset.active = String(active);
  box.dataset.total = String(total);
  return box;
}

function podBox(ns, pod) {
  const state = stateOf(pod.ready, pod.terminating);
  const box = objectBox('pod ' + state, 'pods', ns, pod.name,
    el('div', {class: 'label'}, 'pod/' + pod.name,
       el('span', {class: 'badge'}, pod.terminating ? 'Terminating'
                                     : (pod.ready ? 'Ready' : 'NotReady'))),
    el('div', {class: 'detail'}, pod.phase + ' · ' + pod.readyContainers + '/' +
                                 pod.containers + ' ready' +
                                 (pod.restarts ? ' · ' + pod.restarts + ' restarts' : '')),
    el('div', {class: 'detail'}, (pod.ip || 'no IP') + ' · ' + (pod.node || 'unscheduled')));
  box.dataset.pod = pod.name;
  box.dataset.ready = String(pod.ready);
  box.dataset.state = state;
  return box;
}

function serviceRow(ns, svc, podsByName) {
  const podNames = [];
  for (const ep of svc.endpoints) {
    if (ep.pod && podsByName.has(ep.pod) && !podNames.includes(ep.pod)) podNames.push(ep.pod);
  }
  const row = el('div', {class: 'svc-row', 'data-service': svc.name},
    el('div', {class: 'col clients'}, clientBox(svc)),
    el('div', {class: 'col services'}, serviceBox(ns, svc)),
    el('div', {class: 'col endpoints'},
       ...(svc.endpoints.length ? svc.endpoints.map((ep) => endpointBox(ns, ep))
           : [el('div', {class: 'empty'}, svc.type === 'ExternalName' ? 'no endpoints (DNS only)'
                                          : 'no endpoints')])),
    el('div', {class: 'col pods'}, ...podNames.map((name) => podBox(ns, podsByName.get(name)))));
  row.prepend(document.createElementNS(SVG, 'svg'));
  row.firstChild.setAttribute('class', 'arrows');
  return row;
}

function namespaceSection(ns) {
  const podsByName = new Map(ns.pods.map((p) => [p.name, p]));
  const section = el('section', {class: 'namespace', 'data-namespace': ns.name},
    el('h2', {'data-resource': 'namespaces', 'data-name': ns.name}, 'namespace ' + ns.name,
       el('span', {class: 'phase'}, ns.phase)));
  for (const svc of ns.services) section.append(serviceRow(ns.name, svc, podsByName));
  const loose = ns.pods.filter((p) => p.services.length === 0);
  if (loose.length) {
    section.append(el('div', {class: 'loose'}, el('span', {class: 'title'}, 'pods without a Service'),
                      ...loose.map((p) => podBox(ns.name, p))));
  }
  return section;
}

function nodeBox(node) {
  const box = objectBox('node ' + (node.ready ? 'ready' : 'not-ready'), 'nodes', '', node.name,
    el('span', {class: 'label'}, 'node/' + node.name),
    ' ', el('span', {class: 'detail'}, [node.addresses.join(', '), node.podCIDR,
                                        node.ready ? 'Ready' : 'NotReady',
                                        node.unschedulable ? 'cordoned' : '']
                                        .filter(Boolean).join(' · ')));
  box.dataset.node = node.name;
  return box;
}

// Arrows from the right edge of each source box to the left edge of its targets. Every row's
// boxes are measured first and drawn after, so the page is laid out once, not once per row.
function drawArrows(rows) {
  const measured = [];
  for (const row of rows) {
    const origin = row.getBoundingClientRect();
    const paths = [];
    const link = (from, to, dashed) => {
      if (!from || !to) return;
      const a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
      const x1 = a.right - origin.left, y1 = a.top + a.height / 2 - origin.top;
      const x2 = b.left - origin.left - 2, y2 = b.top + b.height / 2 - origin.top;
      const mid = (x1 + x2) / 2;
      paths.push([`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, dashed]);
    };
    const service = row.querySelector('.service');
    link(row.querySelector('.client'), service, false);
    for (const ep of row.querySelectorAll('.endpoint')) {
      const ready = ep.dataset.state === 'ready';
      link(service, ep, !ready);
      if (ep.dataset.pod) {
        link(ep, row.querySelector(`.pod[data-pod="${CSS.escape(ep.dataset.pod)}"]`), !ready);
      }
    }
    measured.push([row, row.scrollWidth, row.scrollHeight, paths]);
  }
  for (const [row, width, height, paths] of measured) {
    const svg = row.querySelector('svg.arrows');
    svg.setAttribute('width', String(width));
    svg.setAttribute('height', String(height));
    const defs = document.createElementNS(SVG, 'defs');
    defs.innerHTML = '<marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ' +
      'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker>';
    svg.replaceChildren(defs);
    for (const [d, dashed] of paths) {
      const path = document.createElementNS(SVG, 'path');
      path.setAttribute('d', d);
      path.setAttribute('fill', 'none');
      path.setAttribute('stroke', dashed ? '#cbd2d9' : '#7b8794');
      path.setAttribute('stroke-width', '1.6');
      if (dashed) path.setAttribute('stroke-dasharray', '4 3');
      path.setAttribute('marker-end', 'url(#head)');
      svg.append(path);
    }
  }
}

function drawAllArrows() {
  drawArrows(document.querySelectorAll('.svc-row'));
}

// The document as the server sent it (a snapshot, then deltas), and what each namespace's
// section was last drawn from: a section whose data did not change keeps its elements
// (and whatever the user hovers or selects in it).
const doc = {version: 0, nodes: [], namespaces: new Map()};
const drawn = {nodes: '', nodeIPs: '', sections: new Map(), quiet: null, quietNames: ''};
const stats = {snapshots: 0, deltas: 0};

function isEmpty(ns) {
  return !ns.services.length && !ns.pods.length;
}

function drawNodes() {
  const nodes = JSON.stringify(doc.nodes);
  if (nodes === drawn.nodes) return false;
  drawn.nodes = nodes;
  document.getElementById('nodes').replaceChildren(
    el('span', {class: 'detail'}, 'nodes:'), ...doc.nodes.map(nodeBox));
  nodeIPs = doc.nodes.flatMap((node) => node.addresses);
  const ips = nodeIPs.join(' ');
  if (ips === drawn.nodeIPs) return false;
  drawn.nodeIPs = ips;
  return true;  // NodePort addresses are drawn from the nodes: every section changes
}

// The section of the first drawn namespace after `name` (by name), or the quiet line.
function sectionAfter(name) {
  let next = null;
  for (const [other, entry] of drawn.sections) {
    if (other > name && (next === null || other < next[0])) next = [other, entry.section];
  }
  return next ? next[1] : drawn.quiet;
}

// Draw the sections of `names` from doc (all of them when `names` is null); returns the
// sections drawn anew, whose arrows need drawing.
function drawNamespaces(names) {
  const main = document.getElementById('namespaces');
  if (!drawn.quiet) {
    drawn.quiet = el('div', {class: 'quiet', 'data-namespaces': ''});
    main.append(drawn.quiet);
  }
  const fresh = [];
  const all = names === null;
  for (const name of all ? new Set([...doc.namespaces.keys(), ...drawn.sections.keys()]) : names) {
    const ns = doc.namespaces.get(name);
    const old = drawn.sections.get(name);
    if (!ns || isEmpty(ns)) {
      if (old) { old.section.remove(); drawn.sections.delete(name); }
      continue;
    }
    const data = JSON.stringify(ns);
    if (old && old.data === data) continue;
    const section = namespaceSection(ns);
    if (old) old.section.replaceWith(section);
    else if (!all) main.insertBefore(section, sectionAfter(name));
    drawn.sections.set(name, {data, section});
    fresh.push(section);
  }
  if (all) {  // put every section in place by name at once
    const order = [...drawn.sections.keys()].sort().map((name) => drawn.sections.get(name).section);
    order.push(drawn.quiet);
    if (order.length !== main.children.length || order.some((sec, i) => main.children[i] !== sec)) {
      main.replaceChildren(...order);
    }
  }
  const empty = [...doc.namespaces.values()].filter(isEmpty).map((ns) => ns.name).sort();
  const quietNames = empty.join(' ');
  if (quietNames !== drawn.quietNames) {
    drawn.quietNames = quietNames;
    drawn.quiet.dataset.namespaces = quietNames;
    drawn.quiet.replaceChildren(
      empty.length ? 'namespaces without Services or pods: ' : '',
      ...empty.map((name) => el('span', {class: 'box ns-chip', 'data-resource': 'namespaces',
                                         'data-name': name}, name)));
  }
  return fresh;
}

// A snapshot replaces the document; a delta replaces the namespaces it carries, drops the
// removed ones and, when it has them, the nodes. Only the sections that changed are drawn.
function apply(kind, id, message) {
  let names;
  if (kind === 'snapshot') {
    stats.snapshots += 1;
    names = null;
    doc.namespaces = new Map(message.namespaces.map((ns) => [ns.name, ns]));
    doc.nodes = message.nodes;
  } else {
    stats.deltas += 1;
    names = new Set(message.removed);
    for (const name of message.removed) doc.namespaces.delete(name);
    for (const ns of message.namespaces) { doc.namespaces.set(ns.name, ns); names.add(ns.name); }
    if (message.nodes) doc.nodes = message.nodes;
  }
  doc.version = message.version;
  if (drawNodes()) {
    for (const entry of drawn.sections.values()) entry.data = '';
    names = null;
  }
  drawArrows(drawNamespaces(names).flatMap((section) => [...section.querySelectorAll('.svc-row')]));
  const status = document.getElementById('status');
  status.dataset.version = String(doc.version);
  status.dataset.eventId = id;
  status.dataset.snapshots = String(stats.snapshots);
  status.dataset.deltas = String(stats.deltas);
  status.textContent = 'live · ' + new Date().toLocaleTimeString();
  status.classList.remove('disconnected');
}

async function showObject(target) {
  const {resource, namespace, name} = target.dataset;
  const query = new URLSearchParams({resource, name});
  if (namespace) query.set('namespace', namespace);
  const panel = document.getElementById('panel');
  const pre = document.getElementById('yaml');
  document.getElementById('yaml-title').textContent =
    resource + '/' + name + (namespace ? ' -n ' + namespace : '');
  pre.dataset.object = resource + '/' + (namespace ? namespace + '/' : '') + name;
  panel.hidden = false;
  try {
    const resp = await fetch('/api/object?' + query.toString());
    pre.textContent = resp.ok ? await resp.text() : 'error ' + resp.status + ': ' + await resp.text();
  } catch (err) {
    pre.textContent = 'error: ' + err;
  }
  pre.dataset.loaded = pre.dataset.object;
}

document.addEventListener('click', (event) => {
  const target = event.target.closest('[data-resource]');
  if (target) showObject(target);
});
document.getElementById('panel-close').addEventListener('click', () => {
  document.getElementById('panel').hidden = true;
});
window.addEventListener('resize', drawAllArrows);

const events = new EventSource('/api/events');
for (const kind of ['snapshot', 'delta']) {
  events.addEventListener(kind, (event) => apply(kind, event.lastEventId, JSON.parse(event.data)));
}
events.addEventListener('error', () => {
  const status = document.getElementById('status');
  status.textContent = 'reconnecting…';
  status.classList.add('disconnected');
});
