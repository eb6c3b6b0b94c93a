// kubemu console: renders the server's snapshots (Server-Sent Events) as
// client -> Service -> endpoints -> pods diagrams, with nodes; object YAML on click.
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

// The nodes' InternalIPs, where NodePorts answer (set by render before drawing).
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

function endpointBox(ns, ep) {
  const state = stateOf(ep.ready, ep.terminating);
  let active = 0, total = 0, counted = false;
  for (const c of Object.values(ep.connections)) { active += c.active; total += c.total; counted = true; }
  const box = objectBox('endpoint ' + state, 'endpointslices', ns, ep.slice,
    counted ? el('span', {class: 'conns', title: 'connections: active / total'},
                 active + ' open · ' + total + ' total') : null,
    el('div', {class: 'label'}, ep.address),
    el('div', {class: 'detail'}, ep.ports.map((p) => p.port + '/' + p.protocol).join(', ') +
                                 ' · ' + state),
    ep.node ? el('div', {class: 'detail'}, 'node ' + ep.node) : null);
  box.dataset.address = ep.address;
  box.dataset.state = state;
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

// Arrows from the right edge of each source box to the left edge of its targets.
function drawArrows(row) {
  const svg = row.querySelector('svg.arrows');
  const origin = row.getBoundingClientRect();
  svg.setAttribute('width', String(row.scrollWidth));
  svg.setAttribute('height', String(row.scrollHeight));
  svg.replaceChildren();
  const defs = document.createElementNS(SVG, 'defs');
  defs.innerHTML = '<marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ' +
    'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#7b8794"/></marker>';
  svg.append(defs);
  const link = (from, to, dashed) => {
    if (!from || !to) return;
    const a = from.getBoundingClientRect(), b = to.getBoundingClientRect();
    const x1 = a.right - origin.left, y1 = a.top + a.height / 2 - origin.top;
    const x2 = b.left - origin.left - 2, y2 = b.top + b.height / 2 - origin.top;
    const mid = (x1 + x2) / 2;
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
    path.setAttribute('fill', 'none');
    path.setAttribute('stroke', dashed ? '#cbd2d9' : '#7b8794');
    path.setAttribute('stroke-width', '1.6');
    if (dashed) path.setAttribute('stroke-dasharray', '4 3');
    path.setAttribute('marker-end', 'url(#head)');
    svg.append(path);
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
}

function drawAllArrows() {
  for (const row of document.querySelectorAll('.svc-row')) drawArrows(row);
}

// What each part of the page was last drawn from: a part whose data did not change keeps
// its elements (and whatever the user hovers or selects in it).
const drawn = {nodes: '', namespaces: new Map()};

function render(snapshot) {
  const nodes = JSON.stringify(snapshot.nodes);
  if (nodes !== drawn.nodes) {
    drawn.nodes = nodes;
    nodeIPs = snapshot.nodes.flatMap((node) => node.addresses);
    drawn.namespaces.clear();  // NodePort addresses are drawn from the nodes
    document.getElementById('nodes').replaceChildren(
      el('span', {class: 'detail'}, 'nodes:'), ...snapshot.nodes.map(nodeBox));
  }
  const sections = [];
  const next = new Map();
  const empty = snapshot.namespaces.filter((ns) => !ns.services.length && !ns.pods.length);
  for (const ns of snapshot.namespaces) {
    if (!ns.services.length && !ns.pods.length) continue;
    const data = JSON.stringify(ns);
    const old = drawn.namespaces.get(ns.name);
    const section = old && old.data === data ? old.section : namespaceSection(ns);
    next.set(ns.name, {data, section});
    sections.push(section);
  }
  const emptyNames = empty.map((ns) => ns.name).join(' ');
  const prev = drawn.namespaces.get('');
  const quiet = prev && prev.data === emptyNames ? prev.section
    : el('div', {class: 'quiet', 'data-namespaces': emptyNames},
         empty.length ? 'namespaces without Services or pods: ' : '',
         ...empty.map((ns) => el('span', {class: 'box ns-chip', 'data-resource': 'namespaces',
                                           'data-name': ns.name}, ns.name)));
  next.set('', {data: emptyNames, section: quiet});
  sections.push(quiet);
  drawn.namespaces = next;
  const main = document.getElementById('namespaces');
  if (sections.length !== main.children.length ||
      sections.some((section, i) => main.children[i] !== section)) {
    main.replaceChildren(...sections);
  }
  drawAllArrows();
  const status = document.getElementById('status');
  status.dataset.version = String(snapshot.version);
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
events.addEventListener('snapshot', (event) => render(JSON.parse(event.data)));
events.addEventListener('error', () => {
  const status = document.getElementById('status');
  status.textContent = 'reconnecting…';
  status.classList.add('disconnected');
});
