// The review page: views rendered from the JSON of the server, keyboard first.
// Keys on a grid: 1-9 label the focused image with that class, Enter accepts the guess,
// x marks it "none of these", s (or →) skips, ← goes back, u undoes the last change.
"use strict";
const token = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);
let classes = [];        // the classes now (number keys follow this order)
let cards = [];          // the items of the grid shown
let focus = 0;
let polling = null;

function say(text, error) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function api(path, body) {
  const options = body === undefined ? { headers: { "X-Token": token } } : {
    method: "POST",
    headers: { "X-Token": token, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function percent(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %"; }

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else if (k.startsWith("on")) node[k] = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function setClasses(list) {
  classes = list;
  const nav = $("class-nav");
  const chosen = nav.value;
  nav.replaceChildren(el("option", { value: "" }, "a class…"),
    ...list.map((c) => el("option", { value: c }, c)));
  nav.value = chosen;
  $("keys").textContent = "keys: " + list.slice(0, 9).map((c, i) => `${i + 1} ${c}`).join(" · ")
    + " · Enter accept guess · x none of these · s skip · u undo";
}

async function header() {
  const o = await api("/api/overview");
  $("round").textContent = o.round;
  const last = o.rounds.length ? o.rounds[o.rounds.length - 1].estimated_accuracy : null;
  $("accuracy").textContent = last && last.value !== undefined ? percent(last.value) : "–";
  setClasses(o.store_classes);
  return o;
}

async function showOverview() {
  const o = await header();
  const main = $("main");
  const rounds = el("table", {}, el("tr", {}, el("th", {}, "round"), el("th", {}, "labels given"),
    el("th", {}, "estimated accuracy (95 % interval)")),
    ...o.rounds.map((r) => el("tr", {}, el("td", {}, r.round), el("td", {}, r.n_given ?? "–"),
      el("td", {}, r.estimated_accuracy && r.estimated_accuracy.value !== undefined
        ? `${percent(r.estimated_accuracy.value)} (${percent(r.estimated_accuracy.low)}–${percent(r.estimated_accuracy.high)})`
        : "–"))));
  const table = el("table", { id: "class-table" }, el("tr", {}, el("th", {}, "class"),
    el("th", {}, "labels given now"), el("th", {}, "pseudo labels")),
    ...o.classes.map((c) => el("tr", {}, el("td", {}, el("a", { href: "#class=" + encodeURIComponent(c.name) }, c.name)),
      el("td", {}, c.given), el("td", {}, c.pseudo))));
  const top = Math.max(1, ...o.histogram);
  const hist = el("div", { class: "hist", title: "confidence of the pseudo labels, 0 to 1" },
    ...o.histogram.map((n) => el("div", { style: `height:${(100 * n) / top}%`, title: n })));
  const changes = [];
  if (o.since_last_round) changes.push(el("p", { id: "since" }, "Since the last round: " + o.since_last_round));
  changes.push(el("p", { id: "pending" }, `${o.pending_changes} label change(s) made in this round, `
    + `written to ${o.labels_file}; Propagate again to use them.`));
  if (o.out_of_scope) changes.push(el("p", {}, `${o.out_of_scope} image(s) marked none of these.`));
  main.replaceChildren(el("h2", {}, "Rounds"), rounds, ...changes,
    el("h2", {}, "Classes"), table, classForms(),
    el("h2", {}, "Confidence of the pseudo labels"), hist);
  cards = [];
}

function classForms() {
  const pick = (id) => el("select", { id }, ...classes.map((c) => el("option", { value: c }, c)));
  const add = el("form", { id: "add-class" }, "Add class ", el("input", { name: "name", required: "" }),
    el("button", {}, "Add"));
  add.onsubmit = (e) => { e.preventDefault(); classAction({ action: "add", name: add.name.value }); };
  const rename = el("form", { id: "rename-class" }, "Rename ", pick("rename-from"), " to ",
    el("input", { name: "to", required: "" }), el("button", {}, "Rename"));
  rename.onsubmit = (e) => { e.preventDefault();
    classAction({ action: "rename", name: $("rename-from").value, to: rename.to.value }); };
  const merge = el("form", { id: "merge-class" }, "Merge ", pick("merge-from"), " into ",
    pick("merge-into"), el("button", {}, "Merge"));
  merge.onsubmit = (e) => { e.preventDefault();
    classAction({ action: "merge", name: $("merge-from").value, to: $("merge-into").value }); };
  return el("div", {}, add, rename, merge);
}

async function classAction(body) {
  try {
    const r = await api("/api/classes", body);
    setClasses(r.classes);
    say(`${body.action}: done`);
    route();
  } catch (e) { say(e.message, true); }
}

function card(item, i) {
  const img = el("img", { src: `/thumb/${item.index}?token=${encodeURIComponent(token)}`, alt: item.key,
    loading: i < 60 ? "eager" : "lazy", width: 96, height: 96 });
  const lines = [img];
  if (item.guess !== null) lines.push(el("div", {}, `guess ${item.guess} · ${percent(item.confidence)}`));
  if (item.oof_guess) lines.push(el("div", { class: "suspect" }, `held out: ${item.oof_guess}`));
  if (item.reason) lines.push(el("div", {}, item.reason));
  lines.push(el("div", { class: "label" + (item.label ? "" : " none") }, item.label
    ? (item.label === "!none" ? "none of these" : "labeled " + item.label) : "not labeled"));
  const node = el("div", { class: "card" + (item.label ? " done" : ""), "data-index": item.index,
    title: item.key }, ...lines);
  node.onclick = () => setFocus(i);
  return node;
}

function showGrid(data, title) {
  cards = data.items;
  const grid = el("div", { class: "grid", id: "grid" }, ...cards.map(card));
  const parts = [el("h2", {}, title), grid];
  if (data.total > data.items.length && data.class !== undefined) {
    const pages = Math.ceil(data.total / data.page_size);
    const go = (p) => { location.hash = `class=${encodeURIComponent(data.class)}&page=${p}`; };
    parts.push(el("div", { class: "pager" },
      el("button", { onclick: () => go(Math.max(0, data.page - 1)) }, "previous"),
      `page ${data.page + 1} of ${pages} (${data.total} images)`,
      el("button", { onclick: () => go(Math.min(pages - 1, data.page + 1)) }, "next")));
  }
  $("main").replaceChildren(...parts);
  setFocus(0);
}

function setFocus(i) {
  const nodes = document.querySelectorAll(".card");
  if (!nodes.length) return;
  focus = Math.max(0, Math.min(nodes.length - 1, i));
  nodes.forEach((n, k) => n.classList.toggle("focus", k === focus));
  nodes[focus].scrollIntoView({ block: "nearest" });
}

function markCard(i, label) {
  const node = document.querySelectorAll(".card")[i];
  cards[i].label = label;
  const text = node.querySelector(".label");
  text.textContent = label === "!none" ? "none of these" : "labeled " + label;
  text.className = "label";
  node.classList.add("done");
}

async function labelFocused(label, how) {
  const item = cards[focus];
  if (!item) return;
  try {
    const r = await api("/api/label", { index: item.index, label, how });
    if (r.outside) say(`the labels file was changed outside the page (${r.outside} row(s)); those changes are kept`);
    else say(`${item.key}: ${label} (${r.entry ? r.entry.provenance : "unchanged"})`);
    markCard(focus, label);
    setClasses(r.classes);
    setFocus(focus + 1);
  } catch (e) { say(e.message, true); }
}

async function noneFocused() {
  const item = cards[focus];
  if (!item) return;
  try {
    await api("/api/none", { index: item.index });
    markCard(focus, "!none");
    say(`${item.key}: none of these (it leaves propagation and the exports)`);
    setFocus(focus + 1);
  } catch (e) { say(e.message, true); }
}

async function undo() {
  try {
    const r = await api("/api/undo", {});
    say(`undone: ${r.entry.changes.length} change(s)`);
    setClasses(r.classes);
    route();
  } catch (e) { say(e.message, true); }
}

async function propagate() {
  $("propagate").disabled = true;
  try {
    await api("/api/propagate", {});
    say("propagating again…");
  } catch (e) { say(e.message, true); }
  watch();
}

function watch() {
  if (polling) return;
  polling = setInterval(async () => {
    try {
      const p = await api("/api/progress");
      if (p.running) {
        const stages = Object.entries(p.stages).map(([k, v]) => `${k}: ${v}`).join(", ");
        say(`propagating again… ${stages} ${p.last_line}`);
        return;
      }
      clearInterval(polling); polling = null;
      $("propagate").disabled = false;
      if (p.returncode === 0) say(`round ${p.round} is ready`);
      else if (p.returncode !== null) say(`propagating failed: ${p.last_line}`, true);
      route();
    } catch (e) { say(e.message, true); }
  }, 700);
}

async function route() {
  const hash = location.hash.slice(1) || "overview";
  const params = new URLSearchParams(hash);
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("here", a.getAttribute("href") === "#" + hash));
  try {
    if (hash === "overview") return await showOverview();
    await header();
    if (hash === "next") return showGrid(await api("/api/next"), "Label next");
    if (hash === "check") return showGrid(await api("/api/check"), "Check: given labels that look wrong");
    if (params.has("class")) {
      const name = params.get("class");
      const data = await api(`/api/class?name=${encodeURIComponent(name)}&page=${params.get("page") || 0}`);
      return showGrid(data, `Class ${name}: least confident first`);
    }
  } catch (e) { say(e.message, true); }
}

document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea") || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.key === "u") { e.preventDefault(); undo(); return; }
  if (!cards.length) return;
  const item = cards[focus];
  if (/^[1-9]$/.test(e.key) && classes[Number(e.key) - 1]) labelFocused(classes[Number(e.key) - 1], "typed");
  else if (e.key === "Enter") { const g = item.oof_guess || item.guess; if (g) labelFocused(g, "accepted"); }
  else if (e.key === "x") noneFocused();
  else if (e.key === "s" || e.key === "ArrowRight") setFocus(focus + 1);
  else if (e.key === "ArrowLeft") setFocus(focus - 1);
  else return;
  e.preventDefault();
});
$("class-nav").onchange = (e) => { if (e.target.value) location.hash = "class=" + encodeURIComponent(e.target.value); };
$("undo").onclick = undo;
$("propagate").onclick = propagate;
window.addEventListener("hashchange", route);
route();
api("/api/progress").then((p) => { if (p.running) { $("propagate").disabled = true; watch(); } }).catch(() => {});
