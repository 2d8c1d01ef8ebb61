// The dispatcher's board: every open job of the token's scope on a map and
// in a list ordered by SLA risk; a selected job's recommendation, history,
// technician loads and actions; the optimiser as a preview; and the change
// feed, so the board follows every change made anywhere without a reload.
// Everything from the API is inserted as text (Staff.el), never as HTML.
"use strict";

(() => {
  const el = Staff.el;
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  // --- labels ---------------------------------------------------------------

  const OPEN = new Set(["new", "assigned", "en_route", "on_site", "received", "repairing",
    "ready_for_pickup", "notified", "on_hold"]);
  const KIND = { onsite: "上门", carry_in: "送修" };
  const EVENT_LABEL = {
    created: "建单", assign: "派工", transfer: "转派", en_route: "技师出发", on_site: "技师到场",
    repaired: "修复完成", repairing: "开始维修", ready_for_pickup: "修好待取", notified: "通知取件",
    picked_up: "客户取件", mailed_back: "寄回", hold: "暂停", resume: "恢复", closed: "关闭",
    cancelled: "取消", follow_up: "回访",
  };
  const ACTION_LABEL = {
    en_route: "技师出发", on_site: "技师到场", repaired: "修复完成", repairing: "开始维修",
    ready_for_pickup: "修好待取", notified: "通知取件", picked_up: "客户已取件", mailed_back: "寄回",
    hold: "暂停", resume: "恢复", closed: "关闭", cancelled: "取消工单",
  };
  // The next steps a dispatcher may take from each status; the API has the
  // last word and its refusal is shown as a sentence.
  const NEXT = {
    new: ["cancelled"],
    assigned: ["en_route", "hold", "cancelled"],
    en_route: ["on_site", "hold", "cancelled"],
    on_site: ["repaired", "hold", "cancelled"],
    received: ["repairing", "cancelled"],
    repairing: ["ready_for_pickup", "hold", "cancelled"],
    ready_for_pickup: ["notified", "picked_up", "cancelled"],
    notified: ["notified", "picked_up", "mailed_back", "cancelled"],
    on_hold: ["resume", "cancelled"],
    repaired: ["closed"], picked_up: ["closed"], mailed_back: ["closed"],
  };
  const WITH_REASON = new Set(["hold", "cancelled"]);
  const OPT_REASON = {
    no_feasible_technician: "附近没有合适的技师（技能、在岗或上门范围不符，或当天已排满）",
    capacity_exhausted: "合适技师当天的名额已分给其他工单",
  };
  const RISK_RANK = { breached: 0, warning: 1, on_track: 2, paused: 2, met: 3 };

  // --- state ----------------------------------------------------------------

  const S = {
    gen: 0,                 // bumps on every (re)start; old loops stop
    feedAbort: null,
    cursor: null,           // change-feed position
    jobs: new Map(),        // id -> job
    rows: new Map(),        // id -> {key, li}
    markers: new Map(),     // id -> L.Marker
    techs: new Map(),       // technician id -> technician (with booked when known)
    stations: new Map(),    // station id -> station
    regions: new Map(),     // code -> name
    selected: null,         // job id
    detail: null,           // {job, rec, recError, loads, loadsError, gone}
    detailGen: 0,
    plan: null,             // optimiser preview
    side: null,             // "job" | "plan" | null
    first: true,
  };

  const els = {
    board: $("board"), jobs: $("jobs"), listStatus: $("list-status"), counts: $("counts"),
    live: $("live"), liveText: $("live-text"), notice: $("notice"),
    side: $("side"), sideTitle: $("side-title"), sideBody: $("side-body"),
    fRegion: $("f-region"), fStation: $("f-station"), fStatus: $("f-status"), fQ: $("f-q"),
    fUnassigned: $("f-unassigned"), fRisk: $("f-risk"), filters: $("filters"),
    map: $("map"), showStations: $("show-stations"), toggleMap: $("toggle-map"),
  };

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const shanghaiDay = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  });
  const clock = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false,
  });
  function todayYmd() { return shanghaiDay.format(new Date()); }

  function techName(id) {
    const t = S.techs.get(id);
    return t ? t.name : "技师 #" + id;
  }
  function stationName(id) {
    if (!id) return "—";
    const s = S.stations.get(id);
    return s ? s.name : id;
  }
  function regionName(code) { return code ? (S.regions.get(code) || code) : "—"; }
  function product(p) { return Staff.PRODUCTS[p] || p; }
  function status(s) { return Staff.STATUS[s] || s; }

  /** "还剩 3小时" / "已超 2天" from now to `ms`. */
  function relative(ms, now) {
    const d = ms - now;
    const abs = Math.abs(d);
    const min = Math.round(abs / 60000);
    let t;
    if (min < 60) t = min + "分钟";
    else if (min < 48 * 60) t = Math.floor(min / 60) + "小时" + (min % 60 && min < 600 ? (min % 60) + "分" : "");
    else t = Math.floor(min / 1440) + "天" + (Math.floor((min % 1440) / 60) ? Math.floor((min % 1440) / 60) + "小时" : "");
    return d >= 0 ? "还剩 " + t : "已超 " + t;
  }

  // --- SLA risk ---------------------------------------------------------------

  /** A clock's state now: the server's, moved on to warning or breached
   *  when its instants have passed since the job was read. */
  function clockState(c, now) {
    if (!c) return null;
    let s = c.state;
    if (s === "on_track" || s === "warning") {
      if (c.due_at && now >= Date.parse(c.due_at)) s = "breached";
      else if (s === "on_track" && c.warn_at && now >= Date.parse(c.warn_at)) s = "warning";
    }
    return s;
  }

  /** The job's risk: the worse of its completion clock and, before the
   *  technician is on site, its first-visit clock; ties by the earlier due. */
  function risk(job, now) {
    const sla = job.sla || {};
    const c = sla.completion || {};
    let out = { state: clockState(c, now) || "on_track", due: Date.parse(c.due_at || job.due_at), clock: "completion" };
    const fv = sla.first_visit;
    if (fv && ["new", "assigned", "en_route"].includes(job.status)) {
      const f = { state: clockState(fv, now) || "on_track", due: Date.parse(fv.due_at), clock: "first_visit" };
      const a = RISK_RANK[f.state] ?? 2;
      const b = RISK_RANK[out.state] ?? 2;
      if (a < b || (a === b && f.due < out.due)) out = f;
    }
    return out;
  }

  function compare(a, b, now) {
    const ra = risk(a, now), rb = risk(b, now);
    return ((RISK_RANK[ra.state] ?? 2) - (RISK_RANK[rb.state] ?? 2)) ||
      ((ra.due || Infinity) - (rb.due || Infinity)) || (a.id - b.id);
  }

  function isUnassigned(job) { return job.kind === "onsite" && !job.assignment; }

  // --- map --------------------------------------------------------------------

  const params = new URLSearchParams(location.search);
  const CHINA = [[18.0, 73.5], [53.6, 135.1]];
  let map, cluster, selLayer, stationLayer, planLayer;

  function initMap() {
    if (map) return;
    map = Staff.baseMap(els.map, params, "底图不可用，仅显示工单与网点", { worldCopyJump: true });

    stationLayer = L.layerGroup();
    planLayer = L.layerGroup().addTo(map);
    cluster = L.markerClusterGroup({
      showCoverageOnHover: false,
      maxClusterRadius: 40,
      spiderfyOnMaxZoom: true,
      chunkedLoading: true,
      iconCreateFunction: clusterIcon,
    }).addTo(map);
    const pane = map.createPane("selection");
    pane.style.zIndex = "650";
    pane.style.pointerEvents = "none";
    selLayer = L.layerGroup().addTo(map);
  }

  // A faint 5-degree grid with labels: some bearings when tiles are missing.

  /** A cluster shows its count inside a ring whose arcs are the shares of
   *  breached, warning, on-track and paused jobs (the ring is built fresh
   *  for every icon: Leaflet may create one icon object several times). */
  const ClusterIcon = L.DivIcon.extend({
    createIcon(old) {
      const div = L.DivIcon.prototype.createIcon.call(this, old);
      const o = this.options;
      const ring = el("span", { class: "ring" }, el("span", { class: "count" }, String(o.total)));
      let at = 0;
      const stops = [];
      for (const [state, colour] of [["breached", "var(--breached)"], ["warning", "var(--warning)"],
        ["on_track", "var(--on-track)"], ["paused", "var(--paused)"]]) {
        const share = (o.counts[state] || 0) / o.total * 100;
        if (!share) continue;
        stops.push(colour + " " + at.toFixed(2) + "% " + (at + share).toFixed(2) + "%");
        at += share;
      }
      ring.style.background = "conic-gradient(" + stops.join(", ") + ")";
      div.replaceChildren(ring);
      return div;
    },
  });

  function clusterIcon(c) {
    const counts = {};
    let worst = "on_track";
    for (const m of c.getAllChildMarkers()) {
      const s = m.options.risk === "met" ? "on_track" : m.options.risk;
      counts[s] = (counts[s] || 0) + 1;
      if ((RISK_RANK[s] ?? 2) < (RISK_RANK[worst] ?? 2)) worst = s;
    }
    const n = c.getChildCount();
    const size = n < 10 ? 36 : n < 100 ? 42 : 48;
    return new ClusterIcon({
      html: "", className: "job-cluster risk-" + worst, iconSize: [size, size], counts, total: n,
    });
  }

  function markerKey(job, r) {
    return [job.lat, job.lon, r.state, isUnassigned(job), job.status].join("|");
  }

  function makeMarker(job, r, key, selected) {
    const cls = ["job-marker", "risk-" + r.state];
    if (isUnassigned(job)) cls.push("unassigned");
    if (selected) cls.push("selected");
    const m = L.marker([job.lat, job.lon], {
      icon: L.divIcon({ className: cls.join(" "), iconSize: selected ? [22, 22] : [18, 18], iconAnchor: selected ? [11, 11] : [9, 9] }),
      title: job.code + " · " + (Staff.SLA[r.state] || r.state) + " · " + status(job.status),
      keyboard: false,
      riseOnHover: true,
      zIndexOffset: selected ? 5000 : (2 - (RISK_RANK[r.state] ?? 2)) * 100,
    });
    m.options.risk = r.state;
    m.options.key = key;
    m.options.jobId = job.id;
    m.on("click", () => select(job.id, "map"));
    return m;
  }

  /** Clustered markers for the jobs in view; the selected job is drawn on
   *  its own above everything, so a cluster never hides it. */
  function syncMarkers(visible, now) {
    const want = new Set(visible.map((j) => j.id));
    const remove = [], add = [];
    for (const [id, m] of S.markers) {
      if (!want.has(id) || id === S.selected) { remove.push(m); S.markers.delete(id); }
    }
    for (const j of visible) {
      if (j.id === S.selected) continue;
      const r = risk(j, now);
      const key = markerKey(j, r);
      let m = S.markers.get(j.id);
      if (m && m.options.key !== key) { remove.push(m); m = null; }
      if (!m) {
        m = makeMarker(j, r, key, false);
        S.markers.set(j.id, m);
        add.push(m);
      }
    }
    if (remove.length) cluster.removeLayers(remove);
    if (add.length) cluster.addLayers(add);
    drawSelection(now);
  }

  function selectedJob() {
    if (S.selected == null) return null;
    return (S.detail && S.detail.job && S.detail.job.id === S.selected && S.detail.job) || S.jobs.get(S.selected) || null;
  }

  function drawSelection(now) {
    selLayer.clearLayers();
    const j = selectedJob();
    if (!j) return;
    L.circleMarker([j.lat, j.lon], {
      radius: 18, color: "#f2b705", weight: 4, fill: false, interactive: false, pane: "selection",
    }).addTo(selLayer);
    makeMarker(j, risk(j, now || Date.now()), "", true).addTo(selLayer);
  }

  function showOnMap(id, zoom) {
    const j = S.jobs.get(id) || selectedJob();
    if (!j || j.id !== id) return;
    if (zoom) map.setView([j.lat, j.lon], Math.max(map.getZoom(), 12));
    else if (!map.getBounds().pad(-0.1).contains([j.lat, j.lon])) map.panTo([j.lat, j.lon]);
  }

  const narrow = window.matchMedia("(max-width: 760px)");

  /** Shows the job on the map; on a phone the panel steps aside (the job
   *  stays selected: tapping its row or marker brings the panel back). */
  function locate(id) {
    if (narrow.matches) {
      S.side = null;
      els.side.hidden = true;
      els.board.classList.remove("with-side");
      document.body.classList.remove("side-open");
      setMapOpen(true);
    }
    setTimeout(() => {
      map.invalidateSize({ pan: false });
      showOnMap(id, true);
      if (narrow.matches) els.map.scrollIntoView({ block: "start" });
    }, 0);
  }

  // --- stations and their on-site radius --------------------------------------

  let stationsDrawn = false;
  function drawStations() {
    if (stationsDrawn || !S.stations.size) return;
    stationsDrawn = true;
    const renderer = L.canvas({ padding: 0.3 });
    for (const s of S.stations.values()) {
      if (!(s.services || []).includes("onsite")) continue;
      if (s.onsite_radius_km) {
        L.circle([s.lat, s.lon], {
          radius: s.onsite_radius_km * 1000, renderer, interactive: false,
          color: "#0b63c5", weight: 1, opacity: 0.55, fillColor: "#0b63c5", fillOpacity: 0.06,
        }).addTo(stationLayer);
      }
      const dot = L.circleMarker([s.lat, s.lon], {
        radius: 5, renderer, color: "#fff", weight: 2, fillColor: "#0b63c5", fillOpacity: 1,
      });
      dot.bindTooltip(el("span", null, s.name + (s.onsite_radius_km ? " · 上门半径 " + s.onsite_radius_km + " km" : "")));
      dot.bindPopup(() => stationPopup(s));
      dot.addTo(stationLayer);
    }
  }

  function stationPopup(s) {
    const techs = [...S.techs.values()].filter((t) => t.station_id === s.id);
    const box = el("div", { class: "popup" },
      el("strong", null, s.name),
      el("div", null, [s.city, s.address].filter(Boolean).join(" ")),
      el("div", null, "上门半径 " + (s.onsite_radius_km != null ? s.onsite_radius_km + " km" : "—") +
        " · 技师 " + techs.length + " 人"),
    );
    const b = el("button", { type: "button", class: "small" }, "只看该网点的工单");
    b.addEventListener("click", () => {
      ensureStationOption(s.id);
      els.fStation.value = s.id;
      map.closePopup();
      refresh();
    });
    box.append(b);
    return box;
  }

  els.showStations.addEventListener("change", () => {
    if (!map) return;
    if (els.showStations.checked) {
      drawStations();
      stationLayer.addTo(map);
    } else {
      stationLayer.remove();
    }
  });

  // --- filters ----------------------------------------------------------------

  function filters() {
    return {
      region: els.fRegion.value, station: els.fStation.value, status: els.fStatus.value,
      q: els.fQ.value.trim().toLowerCase(), unassigned: els.fUnassigned.checked, risk: els.fRisk.checked,
    };
  }

  function matches(job, f, now) {
    if (f.region && job.region !== f.region) return false;
    if (f.station && job.station_id !== f.station &&
        !(job.assignment && job.assignment.station_id === f.station)) return false;
    if (f.status && job.status !== f.status) return false;
    if (f.unassigned && !isUnassigned(job)) return false;
    if (f.risk) {
      const s = risk(job, now).state;
      if (s !== "warning" && s !== "breached") return false;
    }
    if (f.q) {
      const c = job.customer || {};
      const hay = [job.code, c.name, c.phone, job.address].filter(Boolean).join(" ").toLowerCase();
      if (!hay.includes(f.q)) return false;
    }
    return true;
  }

  function fillStaticFilters() {
    if (els.fStatus.options.length === 1) {
      for (const s of OPEN) els.fStatus.append(el("option", { value: s }, status(s)));
    }
    const keep = els.fRegion.value;
    els.fRegion.replaceChildren(el("option", { value: "" }, "全部区域"),
      ...[...S.regions].map(([code, name]) => el("option", { value: code }, name)));
    els.fRegion.value = keep;
  }

  function ensureStationOption(id) {
    if (![...els.fStation.options].some((o) => o.value === id)) {
      els.fStation.append(el("option", { value: id }, stationName(id)));
    }
  }

  /** The station filter offers the stations that hold open jobs. */
  let stationOptionsKey = "";
  function fillStationFilter() {
    const region = els.fRegion.value;
    const counts = new Map();
    for (const j of S.jobs.values()) {
      if (region && j.region !== region) continue;
      const sid = (j.assignment && j.assignment.station_id) || j.station_id;
      if (sid) counts.set(sid, (counts.get(sid) || 0) + 1);
    }
    const keep = els.fStation.value;
    if (keep && !counts.has(keep)) counts.set(keep, 0);
    const ids = [...counts.keys()].sort((a, b) => stationName(a).localeCompare(stationName(b), "zh-CN"));
    const key = ids.map((id) => id + ":" + counts.get(id)).join(",");
    if (key === stationOptionsKey) return;
    stationOptionsKey = key;
    els.fStation.replaceChildren(el("option", { value: "" }, "全部网点"),
      ...ids.map((id) => el("option", { value: id }, stationName(id) + "（" + counts.get(id) + "）")));
    els.fStation.value = keep;
  }

  for (const input of [els.fRegion, els.fStation, els.fStatus, els.fUnassigned, els.fRisk]) {
    input.addEventListener("change", () => refresh());
  }
  let typing;
  els.fQ.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(refresh, 150); });
  els.filters.addEventListener("submit", (e) => e.preventDefault());
  els.filters.addEventListener("reset", () => setTimeout(refresh, 0));

  // --- the list -----------------------------------------------------------------

  function dueText(r, now) {
    const what = r.clock === "first_visit" ? "上门" : "完成";
    if (!r.due) return what + "期限 —";
    return what + " " + Staff.time(new Date(r.due).toISOString()) +
      (r.state === "paused" ? "（暂停计时）" : "（" + relative(r.due, now).replace("还剩 ", "剩").replace("已超 ", "超") + "）");
  }

  function assigneeText(job) {
    if (job.assignment) {
      return techName(job.assignment.technician_id) + " · " + stationName(job.assignment.station_id);
    }
    if (job.kind === "carry_in") return job.station_id ? "收件 " + stationName(job.station_id) : "送修";
    return "未派工";
  }

  function rowKey(job, r, now) {
    return [job.updated_at, job.status, r.state, dueText(r, now),
      S.techs.size, S.stations.size, S.regions.size].join("|");
  }

  function buildRow(job, r, now) {
    const c = job.customer || {};
    const selected = S.selected === job.id;
    const li = el("li", {
      id: "job-" + job.id, class: "job risk-" + r.state + (isUnassigned(job) ? " unassigned" : ""),
      role: "option", "aria-selected": selected ? "true" : "false", tabindex: "-1",
      "data-testid": "job-row",
      dataset: { code: job.code, id: String(job.id), sla: r.state, status: job.status,
        technician: job.assignment ? String(job.assignment.technician_id) : "" },
    },
    el("div", { class: "row-top" },
      el("span", { class: "badge risk-" + r.state }, Staff.SLA[r.state] || r.state),
      el("span", { class: "code" }, job.code),
      el("span", { class: "status" }, status(job.status)),
      el("span", { class: "where" }, regionName(job.region) + " · " + (KIND[job.kind] || job.kind))),
    el("div", { class: "row-who" },
      el("span", { class: "customer" }, c.name || "—"),
      c.tier === "vip" ? el("span", { class: "vip" }, "VIP") : null,
      el("span", { class: "product" }, product(job.product)),
      el("span", { class: "address" }, job.address || (job.lat.toFixed(4) + ", " + job.lon.toFixed(4)))),
    el("div", { class: "row-bottom" },
      el("span", { class: "due" }, dueText(r, now)),
      el("span", { class: "assignee" + (isUnassigned(job) ? " none" : "") }, assigneeText(job))));
    return li;
  }

  function focusedRowId() {
    const a = document.activeElement;
    return a && a.parentNode === els.jobs ? a.id : null;
  }

  /** Re-renders list and markers from S.jobs, reusing rows that did not
   *  change and keeping the row the dispatcher looks at in place. */
  function refresh() {
    const now = Date.now();
    const f = filters();
    fillStationFilter();
    const visible = [...S.jobs.values()].filter((j) => matches(j, f, now)).sort((a, b) => compare(a, b, now));

    // Scroll anchor: the selected row if on screen, else the first row on
    // screen; not when the list is at its top (new urgent jobs show there).
    const list = els.jobs;
    let anchor = null, offset = 0;
    if (list.scrollTop > 0) {
      const top = list.scrollTop, bottom = top + list.clientHeight;
      const sel = S.selected != null && S.rows.get(S.selected);
      const inView = (li) => li && li.isConnected && li.offsetTop + li.offsetHeight > top && li.offsetTop < bottom;
      if (sel && inView(sel.li)) anchor = sel.li;
      else for (const li of list.children) { if (inView(li)) { anchor = li; break; } }
      if (anchor) { anchor = anchor.dataset.id; offset = list.querySelector("#job-" + anchor).offsetTop - top; }
    }
    const focused = focusedRowId();

    const want = [];
    const seen = new Set();
    for (const j of visible) {
      const r = risk(j, now);
      const key = rowKey(j, r, now);
      let cached = S.rows.get(j.id);
      if (!cached || cached.key !== key) {
        const li = buildRow(j, r, now);
        if (cached && cached.li.isConnected) cached.li.replaceWith(li);
        cached = { key, li };
        S.rows.set(j.id, cached);
      }
      seen.add(j.id);
      want.push(cached.li);
    }
    for (const id of [...S.rows.keys()]) if (!S.jobs.has(id)) S.rows.delete(id);
    // Move only what is out of place.
    const wantSet = new Set(want);
    for (const child of [...list.children]) if (!wantSet.has(child)) child.remove();
    let cur = list.firstElementChild;
    for (const li of want) {
      if (li === cur) { cur = cur.nextElementSibling; continue; }
      list.insertBefore(li, cur);
    }
    // Roving tab stop: the selected row, else the first.
    let stop = (S.selected != null && seen.has(S.selected)) ? S.rows.get(S.selected).li : want[0];
    for (const li of want) li.tabIndex = li === stop ? 0 : -1;
    if (focused) { const f2 = document.getElementById(focused); if (f2 && document.activeElement !== f2) f2.focus({ preventScroll: true }); }
    if (anchor != null) {
      const a = list.querySelector("#job-" + anchor);
      if (a) list.scrollTop = a.offsetTop - offset;
    }

    syncMarkers(visible, now);
    counts(visible.length, now);
  }

  function counts(shown, now) {
    let breached = 0, warning = 0, unassigned = 0;
    for (const j of S.jobs.values()) {
      const s = risk(j, now).state;
      if (s === "breached") breached += 1;
      else if (s === "warning") warning += 1;
      if (isUnassigned(j)) unassigned += 1;
    }
    els.counts.replaceChildren(
      el("span", null, "在办 ", el("b", null, String(S.jobs.size))),
      el("span", { class: "c-breached" }, "超时 ", el("b", null, String(breached))),
      el("span", { class: "c-warning" }, "预警 ", el("b", null, String(warning))),
      el("span", null, "未派工 ", el("b", null, String(unassigned))));
    els.listStatus.textContent = S.jobs.size === 0
      ? "范围内没有在办工单。"
      : shown === S.jobs.size ? "共 " + shown + " 个在办工单，超时风险高的在前。"
        : "筛选后显示 " + shown + " 个，共 " + S.jobs.size + " 个在办工单。";
    document.body.dataset.jobs = String(S.jobs.size);
  }

  els.jobs.addEventListener("click", (e) => {
    const li = e.target.closest("li.job");
    if (li) select(Number(li.dataset.id), "list");
  });
  els.jobs.addEventListener("keydown", (e) => {
    const rows = [...els.jobs.children];
    const i = rows.indexOf(document.activeElement);
    if (i < 0) return;
    let next = null;
    switch (e.key) {
      case "ArrowDown": next = rows[Math.min(i + 1, rows.length - 1)]; break;
      case "ArrowUp": next = rows[Math.max(i - 1, 0)]; break;
      case "Home": next = rows[0]; break;
      case "End": next = rows[rows.length - 1]; break;
      case "Enter": case " ":
        e.preventDefault();
        select(Number(rows[i].dataset.id), "list", true);
        return;
      default: return;
    }
    e.preventDefault();
    next.focus();
    select(Number(next.dataset.id), "keys");
  });

  // --- selection and the job panel ---------------------------------------------

  function setRowSelected(id, on) {
    const c = S.rows.get(id);
    if (!c) return;
    c.li.setAttribute("aria-selected", on ? "true" : "false");
    c.li.tabIndex = on ? 0 : -1;
  }

  let detailTimer;
  function select(id, from, openPanel = true) {
    if (S.selected !== id) {
      if (S.selected != null) setRowSelected(S.selected, false);
      S.selected = id;
      setRowSelected(id, true);
      S.detail = { job: S.jobs.get(id), loading: true };
    }
    const c = S.rows.get(id);
    if (c && from === "map") c.li.scrollIntoView({ block: "nearest" });
    if (openPanel) openSide("job");
    if (from !== "map") showOnMap(id, false);
    refresh();
    if (openPanel) {
      renderDetail();
      clearTimeout(detailTimer);
      detailTimer = setTimeout(() => loadDetail(id), from === "keys" ? 200 : 0);
    }
  }

  function clearSelection() {
    if (S.selected != null) setRowSelected(S.selected, false);
    S.selected = null;
    S.detail = null;
    refresh();
  }

  function openSide(mode) {
    if (mode === "job" && S.side === "plan") clearPlan();   // one thing at a time
    S.side = mode;
    const wasHidden = els.side.hidden;
    els.side.hidden = false;
    els.board.classList.add("with-side");
    document.body.classList.toggle("side-open", true);
    if (wasHidden && map) map.invalidateSize({ pan: false });
  }

  function closeSide() {
    const mode = S.side;
    if (mode === "plan") {
      clearPlan();
      if (S.selected != null && S.detail) { S.side = "job"; renderDetail(); return; }
    }
    S.side = null;
    els.side.hidden = true;
    els.board.classList.remove("with-side");
    document.body.classList.remove("side-open");
    const backId = S.selected;
    if (mode === "job") clearSelection();
    const back = backId != null && S.rows.get(backId);
    if (back && back.li.isConnected) back.li.focus({ preventScroll: true });
    if (map) setTimeout(() => map.invalidateSize({ pan: false }), 0);
  }
  $("side-close").addEventListener("click", closeSide);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !els.side.hidden && !document.querySelector("dialog[open]")) closeSide();
  });

  async function loadDetail(id) {
    const gen = ++S.detailGen;
    let job;
    try {
      job = await Staff.api("GET", `${API}/jobs/${id}`);
    } catch (e) {
      if (gen !== S.detailGen || S.selected !== id) return;
      if (e.status === 404) { S.detail = { ...S.detail, gone: true, loading: false }; removeJob(id); refresh(); }
      else S.detail = { ...S.detail, error: e.message, loading: false };
      renderDetail();
      return;
    }
    if (gen !== S.detailGen || S.selected !== id) return;
    S.detail = { ...S.detail, job, loading: false };
    renderDetail();
    await loadExtras(id, gen);
  }

  /** The recommendation and today's loads for the selected job. */
  async function loadExtras(id, gen = S.detailGen) {
    const d = S.detail;
    if (!d || !d.job) return;
    const job = d.job;
    const open = OPEN.has(job.status);
    const recP = job.kind === "onsite" && open
      ? Staff.api("GET", `${API}/jobs/${id}/recommendation`).then((r) => ({ rec: r }), (e) => ({ recError: e.message }))
      : Promise.resolve({});
    const rec = await recP;
    const stationId = (job.assignment && job.assignment.station_id) || job.station_id ||
      (rec.rec && rec.rec.candidates[0] && rec.rec.candidates[0].station_id);
    let loads = {};
    if (stationId) {
      try {
        loads = { loads: await stationTechs(stationId), loadsStation: stationId };
      } catch (e) {
        loads = { loadsError: e.message, loadsStation: stationId };
      }
    }
    if (gen !== S.detailGen || S.selected !== id || !S.detail) return;
    S.detail = { ...S.detail, rec: undefined, recError: undefined, ...rec, ...loads };
    renderDetail();
  }

  let dayParam = true;
  async function stationTechs(stationId) {
    if (dayParam) {
      try {
        const r = await Staff.api("GET", `${API}/technicians?station_id=${encodeURIComponent(stationId)}&day=${todayYmd()}`);
        for (const t of r.items) S.techs.set(t.id, t);
        return r.items;
      } catch (e) {
        if (e.status !== 400) throw e;
        dayParam = false;   // a server without per-day bookings
      }
    }
    const r = await Staff.api("GET", `${API}/technicians?station_id=${encodeURIComponent(stationId)}`);
    return r.items;
  }

  let extrasTimer;
  function refreshExtrasSoon() {
    clearTimeout(extrasTimer);
    extrasTimer = setTimeout(() => { if (S.selected != null) loadExtras(S.selected); }, 300);
  }

  function loadBar(booked, cap) {
    if (booked == null) return el("span", { class: "load unknown" }, "— / " + cap);
    const full = booked >= cap;
    const meter = el("span", { class: "meter" + (full ? " full" : booked / cap >= 0.75 ? " high" : ""), "aria-hidden": "true" });
    const fill = el("span", { class: "meter-fill" });
    fill.style.width = Math.min(100, Math.round((booked / Math.max(cap, 1)) * 100)) + "%";
    meter.append(fill);
    return el("span", { class: "load" + (full ? " full" : "") }, meter,
      el("span", { class: "load-text" }, booked + " / " + cap + (full ? " 已满" : "")));
  }

  function section(title, ...children) {
    return el("section", { class: "panel-section" }, el("h3", null, title), ...children);
  }

  function dl(pairs) {
    const d = el("dl", { class: "facts" });
    for (const [k, v] of pairs) if (v != null && v !== "") d.append(el("dt", null, k), el("dd", null, v));
    return d;
  }

  function renderDetail() {
    if (S.side !== "job" || !S.detail) return;
    const d = S.detail;
    const job = d.job;
    const body = els.sideBody;
    const scroll = body.scrollTop;
    const focusKey = document.activeElement && body.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    els.sideTitle.textContent = job ? "工单 " + job.code : "工单";
    const out = [];
    if (!job) { body.replaceChildren(el("p", null, "正在加载…")); return; }
    const now = Date.now();
    if (d.gone) out.push(el("p", { class: "banner" }, "该工单已不在您的范围内。"));
    else if (!OPEN.has(job.status)) out.push(el("p", { class: "banner" }, "该工单现为「" + status(job.status) + "」，已从看板移出。"));
    if (d.error) out.push(el("p", { class: "form-error", role: "alert" }, d.error));

    const r = risk(job, now);
    const c = job.customer || {};
    const sla = job.sla || {};
    const clocks = el("div", { class: "clocks" });
    for (const [name, label] of [["completion", "完成"], ["first_visit", "首次上门"]]) {
      const k = sla[name];
      if (!k) continue;
      const s = clockState(k, now);
      clocks.append(el("div", { class: "clock" },
        el("span", { class: "badge risk-" + s }, label + " · " + (Staff.SLA[s] || (s === "met" ? "已达成" : s))),
        el("span", null, "期限 " + Staff.time(k.due_at) + (s === "met" ? "" : "（" + relative(Date.parse(k.due_at), now) + "）"))));
    }
    out.push(el("div", { class: "detail-head" },
      el("p", { class: "detail-status" },
        el("span", { class: "badge risk-" + r.state }, Staff.SLA[r.state] || r.state),
        el("span", null, status(job.status)), el("span", null, (KIND[job.kind] || job.kind) + " · " + product(job.product)),
        el("button", { type: "button", class: "link locate", dataset: { key: "zoom" },
          onclick: () => locate(job.id) }, "在地图上定位")),
      el("p", { class: "detail-who" },
        el("strong", null, c.name || "—"),
        c.tier === "vip" ? el("span", { class: "vip" }, "VIP") : null,
        c.phone ? el("a", { href: "tel:" + c.phone.replace(/[^0-9+]/g, ""), "aria-label": "拨打客户电话 " + c.phone }, c.phone) : null,
        el("span", { class: "muted" }, job.address || (job.lat.toFixed(5) + ", " + job.lon.toFixed(5)))),
      clocks));

    // Actions
    const actions = el("div", { class: "actions" });
    if (OPEN.has(job.status)) {
      if (job.assignment && ["assigned", "en_route"].includes(job.status)) {
        actions.append(el("button", { type: "button", class: "primary", id: "transfer-open", dataset: { key: "transfer" },
          onclick: () => openTransfer(null) }, "转派…"));
      }
      for (const ev of NEXT[job.status] || []) {
        actions.append(el("button", {
          type: "button", class: ev === "cancelled" ? "danger" : "secondary", dataset: { event: ev, key: "ev-" + ev },
          onclick: () => (WITH_REASON.has(ev) ? openEvent(ev) : postEvent(ev, undefined, null)),
        }, ACTION_LABEL[ev] || ev));
      }
    }
    out.push(actions);
    out.push(el("p", { id: "action-error", class: "form-error", role: "alert", hidden: !d.actionError }, d.actionError || ""));

    // Assignment
    if (job.assignment) {
      const a = job.assignment;
      out.push(section("当前派工",
        el("p", { class: "assigned-to" }, el("strong", null, techName(a.technician_id)), " · " + stationName(a.station_id)),
        el("p", { class: "assigned-how muted" }, "上门日 " + Staff.day(a.day) + (a.period ? " " + a.period : "") +
          " · 距离 " + Staff.km(a.distance_m) + (a.eta_minutes != null ? " · 车程约 " + a.eta_minutes + " 分钟" : ""))));
    } else if (job.kind === "onsite") {
      out.push(section("当前派工", el("p", { class: "none" }, "尚未派工：从下方推荐中选择技师。")));
    } else {
      out.push(section("收件网点", el("p", { class: "assigned-to" }, el("strong", null, stationName(job.station_id)))));
    }

    // Recommendation
    if (job.kind === "onsite" && OPEN.has(job.status)) {
      if (d.recError) out.push(section("推荐技师", el("p", { class: "form-error" }, d.recError)));
      else if (d.rec) out.push(section("推荐技师", recommendation(job, d.rec)));
      else out.push(section("推荐技师", el("p", { class: "muted" }, "正在计算…")));
    }

    // Loads today
    if (d.loadsStation) {
      const title = "技师今日负荷 · " + stationName(d.loadsStation);
      if (d.loadsError) out.push(section(title, el("p", { class: "form-error" }, d.loadsError)));
      else if (d.loads) out.push(section(title, loadsTable(job, d.loads)));
    }

    // Customer and job
    out.push(section("客户与工单", dl([
      ["客户", (c.name || "—") + (c.tier === "vip" ? "（VIP）" : "")],
      ["电话", c.phone ? el("a", { href: "tel:" + c.phone.replace(/[^0-9+]/g, "") }, c.phone) : "—"],
      ["地址", job.address || (job.lat.toFixed(5) + ", " + job.lon.toFixed(5))],
      ["区域", regionName(job.region)],
      ["保修", job.warranty ? (Staff.WARRANTY[job.warranty.decision] || job.warranty.decision) : "—"],
      ["保修说明", job.warranty && job.warranty.reason],
      ["故障", job.problem],
      ["建单", Staff.time(job.created_at)],
    ])));

    // History
    if (job.events && job.events.length) {
      const ol = el("ol", { class: "history" });
      for (const e of [...job.events].reverse()) ol.append(historyItem(e));
      out.push(section("处理记录", ol));
    } else if (d.loading) {
      out.push(section("处理记录", el("p", { class: "muted" }, "正在加载…")));
    }

    body.replaceChildren(...out);
    body.scrollTop = scroll;
    if (focusKey) {
      const f = body.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
      if (f) f.focus({ preventScroll: true });
    }
    drawSelection();
  }

  function loadsTable(job, techs) {
    if (!techs.length) return el("p", { class: "muted" }, "该网点没有登记技师。");
    const current = job.assignment && job.assignment.technician_id;
    const table = el("table", { class: "loads" },
      el("thead", null, el("tr", null, el("th", { scope: "col" }, "技师"), el("th", { scope: "col" }, "今日"),
        el("th", { scope: "col" }, "状态"))));
    const tb = el("tbody");
    for (const t of techs) {
      const skill = (t.skills || []).includes(job.product);
      const note = !t.on_duty ? "不在岗" : !skill ? "无" + product(job.product) + "技能" : t.id === current ? "当前技师" : "";
      tb.append(el("tr", { class: t.id === current ? "current" : "" },
        el("th", { scope: "row" }, t.name),
        el("td", null, loadBar(t.booked, t.daily_capacity)),
        el("td", null, note || "可接单")));
    }
    table.append(tb);
    return table;
  }

  function recommendation(job, rec) {
    const wrap = el("div", { class: "rec" });
    const current = job.assignment && job.assignment.technician_id;
    if (!rec.candidates.length) {
      wrap.append(el("p", { class: "none" }, "附近没有能接这个工单的技师，原因见下。"));
    } else {
      const ol = el("ol", { class: "candidates" });
      rec.candidates.forEach((cand, i) => {
        const isCurrent = cand.technician_id === current;
        const label = !job.assignment ? "派给 " + techName(cand.technician_id) : "转派给 " + techName(cand.technician_id);
        ol.append(el("li", { class: "candidate" + (isCurrent ? " current" : "") },
          el("div", { class: "cand-main" },
            el("span", { class: "rank", "aria-hidden": "true" }, String(i + 1)),
            el("span", { class: "cand-name" }, techName(cand.technician_id)),
            el("span", { class: "cand-station" }, stationName(cand.station_id))),
          el("div", { class: "cand-facts" },
            el("span", null, "距离 " + Staff.km(cand.distance_m)),
            el("span", null, "车程约 " + cand.eta_minutes + " 分钟"),
            el("span", null, "负荷 "), loadBar(cand.booked, cand.daily_capacity)),
          isCurrent ? el("span", { class: "muted" }, "当前技师")
            : el("button", {
              type: "button", class: i === 0 ? "primary small" : "secondary small",
              dataset: { technician: String(cand.technician_id), key: "cand-" + cand.technician_id },
              "aria-label": label,
              onclick: () => (job.assignment ? openTransfer(cand.technician_id) : assign(job, cand.technician_id)),
            }, job.assignment ? "转派" : "派工")));
      });
      wrap.append(ol);
    }
    if (rec.rejected && rec.rejected.length) {
      const det = el("details", { class: "rejected" },
        el("summary", null, "未入选 " + rec.rejected.length + " 项及原因"));
      const ul = el("ul");
      for (const x of rec.rejected) {
        ul.append(el("li", null,
          el("span", null, stationName(x.station_id) + (x.technician_id != null ? " · " + techName(x.technician_id) : "")),
          el("span", { class: "reason" }, Staff.REJECT[x.reason] || x.reason)));
      }
      det.append(ul);
      wrap.append(det);
    }
    return wrap;
  }

  function historyItem(e) {
    const d = e.data || {};
    const bits = [];
    if (e.from_status || e.to_status) {
      bits.push(e.from_status && e.from_status !== e.to_status
        ? status(e.from_status) + " → " + status(e.to_status) : status(e.to_status));
    }
    if (d.technician_id != null) {
      bits.push((d.from_technician_id != null ? techName(d.from_technician_id) + " → " : "技师 ") + techName(d.technician_id));
    }
    if (d.auto) bits.push("自动派工");
    if (d.satisfaction != null) bits.push("满意度 " + d.satisfaction);
    return el("li", { class: "event ev-" + e.event },
      el("div", { class: "ev-head" },
        el("time", { datetime: e.at }, Staff.time(e.at)),
        el("strong", null, EVENT_LABEL[e.event] || e.event)),
      bits.length ? el("div", { class: "ev-what" }, bits.join(" · ")) : null,
      e.reason ? el("div", { class: "ev-reason" }, "原因：" + e.reason) : null);
  }

  // --- actions --------------------------------------------------------------

  function notice(text) {
    els.notice.textContent = text;
    els.notice.hidden = false;
    clearTimeout(notice.t);
    notice.t = setTimeout(() => { els.notice.hidden = true; }, 6000);
  }

  function actionError(msg) {
    if (!S.detail) return;
    S.detail = { ...S.detail, actionError: msg };
    renderDetail();
  }

  /** A job the API returned after a write: on the board and in the panel. */
  function took(job) {
    upsert(job);
    if (S.selected === job.id && S.detail) {
      S.detail = { ...S.detail, job, actionError: null, gone: false };
      renderDetail();
      refreshExtrasSoon();
    }
    refresh();
  }

  async function assign(job, technicianId) {
    try {
      const j = await Staff.api("POST", `${API}/jobs/${job.id}/assign`, { technician_id: technicianId });
      took(j);
      notice(job.code + " 已派给 " + techName(technicianId) + "。");
    } catch (e) {
      actionError(e.message);
    }
  }

  async function postEvent(ev, reason, errorEl) {
    const d = S.detail;
    if (!d || !d.job) return false;
    const job = d.job;
    const body = { event: ev };
    if (reason) body.reason = reason;
    try {
      const j = await Staff.api("POST", `${API}/jobs/${job.id}/events`, body);
      took(j);
      notice(job.code + "：" + (ACTION_LABEL[ev] || ev) + "，现为" + status(j.status) + "。");
      return true;
    } catch (e) {
      if (errorEl) { errorEl.textContent = e.message; errorEl.hidden = false; } else actionError(e.message);
      return false;
    }
  }

  // Transfer dialog
  const tDialog = $("transfer-dialog");
  const tTech = $("transfer-tech");
  const tReason = $("transfer-reason");
  const tError = $("transfer-error");

  function openTransfer(preferred) {
    const d = S.detail;
    if (!d || !d.job) return;
    const job = d.job;
    const current = job.assignment && job.assignment.technician_id;
    const opts = [];
    const seen = new Set([current]);
    for (const c of (d.rec && d.rec.candidates) || []) {
      if (seen.has(c.technician_id)) continue;
      seen.add(c.technician_id);
      opts.push(el("option", { value: String(c.technician_id) },
        techName(c.technician_id) + "（负荷 " + c.booked + "/" + c.daily_capacity + "）· " + Staff.km(c.distance_m) +
        " · " + stationName(c.station_id)));
    }
    for (const t of d.loads || []) {
      if (seen.has(t.id) || !t.on_duty || !(t.skills || []).includes(job.product)) continue;
      if (t.booked != null && t.booked >= t.daily_capacity) continue;
      seen.add(t.id);
      opts.push(el("option", { value: String(t.id) },
        t.name + (t.booked != null ? "（负荷 " + t.booked + "/" + t.daily_capacity + "）" : "") + " · " + stationName(t.station_id)));
    }
    const none = !opts.length;
    if (none) opts.push(el("option", { value: "" }, d.rec ? "没有可转派的技师" : "正在加载推荐…"));
    tTech.replaceChildren(...opts);
    tTech.disabled = none;
    $("transfer-submit").disabled = none;
    if (preferred != null) tTech.value = String(preferred);
    $("transfer-job").textContent = job.code + " · 当前技师 " + (current != null ? techName(current) : "—") +
      " · " + stationName(job.assignment && job.assignment.station_id);
    tReason.value = "";
    tError.hidden = !none;
    tError.textContent = none
      ? (d.rec ? "附近没有其他能接这个工单的技师（见面板中的未入选原因）。" : "推荐还在加载，请稍候再试。") : "";
    tDialog.showModal();
    (none ? $("transfer-cancel") : preferred != null ? tReason : tTech).focus();
  }

  $("transfer-cancel").addEventListener("click", () => tDialog.close());
  tReason.addEventListener("input", () => { if (tReason.value.trim()) tError.hidden = true; });
  $("transfer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const d = S.detail;
    if (!d || !d.job) { tDialog.close(); return; }
    const tech = Number(tTech.value);
    const reason = tReason.value.trim();
    if (!tech) { tError.textContent = "请选择要转给的技师。"; tError.hidden = false; tTech.focus(); return; }
    if (!reason) { tError.textContent = "请填写转派原因。"; tError.hidden = false; tReason.focus(); return; }
    const submit = $("transfer-submit");
    submit.disabled = true;
    try {
      const j = await Staff.api("POST", `${API}/jobs/${d.job.id}/assign`, { technician_id: tech, reason });
      tDialog.close();
      took(j);
      notice(j.code + " 已转派给 " + techName(tech) + "。");
    } catch (err) {
      tError.textContent = err.message;
      tError.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  // Event dialog (hold / cancel ask for a reason)
  const eDialog = $("event-dialog");
  const eReason = $("event-reason");
  const eError = $("event-error");
  let pendingEvent = null;

  function openEvent(ev) {
    const d = S.detail;
    if (!d || !d.job) return;
    pendingEvent = ev;
    $("event-title").textContent = (ACTION_LABEL[ev] || ev) + " · " + d.job.code;
    $("event-job").textContent = d.job.code + " · " + status(d.job.status) + " · " + ((d.job.customer || {}).name || "");
    document.querySelector('label[for="event-reason"]').textContent =
      ev === "hold" ? "暂停原因（例如：客户出差、等待客户确认报价）" : "取消原因";
    $("event-submit").textContent = "确认" + (ACTION_LABEL[ev] || ev);
    $("event-submit").className = ev === "cancelled" ? "danger" : "";
    eReason.value = "";
    eError.hidden = true;
    eDialog.showModal();
    eReason.focus();
  }
  $("event-cancel").addEventListener("click", () => eDialog.close());
  $("event-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    if (!pendingEvent) return;
    const reason = eReason.value.trim();
    if (!reason) { eError.textContent = "请填写原因。"; eError.hidden = false; eReason.focus(); return; }
    if (await postEvent(pendingEvent, reason, eError)) eDialog.close();
  });

  // --- optimiser preview --------------------------------------------------------

  const OPT_COLOUR = "#6a1b9a";

  async function preview() {
    const region = els.fRegion.value || null;
    S.plan = { loading: true, region };
    openSide("plan");
    renderPlan();
    try {
      const body = { apply: false };
      if (region) body.region = region;
      const plan = await Staff.api("POST", `${API}/dispatch/optimize`, body);
      if (S.plan && S.plan.region === region && S.side === "plan") {
        S.plan = { ...plan, region };
        await ensureTechsFor(plan.assignments);
        renderPlan();
        drawPlan(true);
      }
    } catch (e) {
      S.plan = { region, error: e.message };
      renderPlan();
    }
  }
  $("optimize").addEventListener("click", preview);

  /** Technician names and stations for a plan (one call per unknown station
   *  is avoided: the list of all technicians in scope is loaded once). */
  async function ensureTechsFor(assignments) {
    if (assignments.every((a) => S.techs.has(a.technician_id))) return;
    await loadTechnicians().catch(() => {});
  }

  function stationOf(a) {
    if (a.station_lat != null && a.station_lon != null) return { id: a.station_id, lat: a.station_lat, lon: a.station_lon };
    const sid = a.station_id || (S.techs.get(a.technician_id) || {}).station_id;
    const s = sid && S.stations.get(sid);
    return s ? { id: sid, lat: s.lat, lon: s.lon } : (sid ? { id: sid } : null);
  }

  function jobOf(id) { return S.jobs.get(id) || null; }

  function clearPlan() {
    S.plan = null;
    if (planLayer) planLayer.clearLayers();
  }

  /** The proposed assignments as dashed lines job -> station, each job
   *  numbered as in the list, so they read at any zoom. */
  function drawPlan(fit) {
    planLayer.clearLayers();
    const p = S.plan;
    if (!p || !p.assignments) return;
    const bounds = L.latLngBounds([]);
    p.assignments.forEach((a, i) => {
      const j = jobOf(a.job_id);
      const st = stationOf(a);
      if (!j) return;
      if (st && st.lat != null) {
        const line = L.polyline([[j.lat, j.lon], [st.lat, st.lon]], {
          color: OPT_COLOUR, weight: 3, opacity: 0.9, dashArray: "6 5",
        });
        line.bindTooltip(el("span", null, (a.code || j.code) + " → " + techName(a.technician_id) + " · " + Staff.km(a.distance_m)));
        line.addTo(planLayer);
        L.circleMarker([st.lat, st.lon], { radius: 6, color: "#fff", weight: 2, fillColor: OPT_COLOUR, fillOpacity: 1, interactive: false })
          .addTo(planLayer);
        bounds.extend([st.lat, st.lon]);
      }
      L.marker([j.lat, j.lon], {
        icon: L.divIcon({ className: "plan-marker", html: "<span>" + (i + 1) + "</span>", iconSize: [24, 24], iconAnchor: [12, 30] }),
        keyboard: false, interactive: false, zIndexOffset: 6000,
      }).addTo(planLayer);
      bounds.extend([j.lat, j.lon]);
    });
    if (fit && bounds.isValid()) map.fitBounds(bounds, { padding: [40, 40], maxZoom: 12 });
  }

  /** Zooms to one proposed assignment (on a phone the panel steps aside). */
  function locatePlan(a) {
    const j = jobOf(a.job_id);
    if (!j) return;
    const st = stationOf(a);
    if (narrow.matches) {
      els.side.hidden = true;
      document.body.classList.remove("side-open");
      setMapOpen(true);
    }
    setTimeout(() => {
      map.invalidateSize({ pan: false });
      const b = L.latLngBounds([[j.lat, j.lon]]);
      if (st && st.lat != null) b.extend([st.lat, st.lon]);
      map.fitBounds(b, { padding: [60, 60], maxZoom: 13 });
      if (narrow.matches) els.map.scrollIntoView({ block: "start" });
    }, 0);
  }

  function renderPlan() {
    if (S.side !== "plan") return;
    const p = S.plan || {};
    const body = els.sideBody;
    els.sideTitle.textContent = p.applied ? "优化派工结果" : "优化预览";
    const scope = "范围：" + (p.region ? regionName(p.region) : "全部区域") + "的未派工上门工单";
    if (p.loading) { body.replaceChildren(el("p", { class: "muted" }, scope), el("p", null, "正在计算…")); return; }
    if (p.error) { body.replaceChildren(el("p", { class: "muted" }, scope), el("p", { class: "form-error", role: "alert" }, p.error)); return; }
    const out = [el("p", { class: "muted" }, scope + (p.day ? " · 派工日 " + Staff.day(p.day) : ""))];
    out.push(el("p", { class: "plan-summary", id: "plan-summary" },
      p.applied
        ? "已派工 " + (p.applied_count ?? p.assignments.length) + " 个工单，总距离 " + Staff.km(p.total_distance_m) + "。"
        : "考虑 " + p.jobs_considered + " 个工单：建议派工 " + p.assignments.length + " 个，总距离 " +
          Staff.km(p.total_distance_m) + "；" + p.unassigned.length + " 个无法派工。"));
    if (!p.applied) {
      out.push(el("div", { class: "actions" },
        el("button", { type: "button", class: "primary", id: "plan-apply", disabled: !p.assignments.length,
          onclick: confirmApply }, "执行这 " + p.assignments.length + " 项派工…"),
        el("button", { type: "button", class: "ghost", onclick: preview }, "重新计算")));
    }
    if (p.assignments.length) {
      const ol = el("ol", { class: "plan-list", id: "plan-assignments" });
      for (const a of p.assignments) {
        const j = jobOf(a.job_id);
        const st = stationOf(a);
        ol.append(el("li", { dataset: { job: String(a.job_id), code: a.code || (j && j.code) || "" } },
          el("div", { class: "plan-line" },
            el("button", { type: "button", class: "link", onclick: () => locatePlan(a) },
              a.code || (j ? j.code : "#" + a.job_id)),
            el("span", { class: "dist" }, Staff.km(a.distance_m))),
          el("div", { class: "plan-what" }, "→ " + techName(a.technician_id) + " · " + stationName(st && st.id)),
          j ? el("div", { class: "plan-where muted" }, j.address || "") : null));
      }
      out.push(section(p.applied ? "已派工" : "建议派工", ol));
    }
    if (p.unassigned.length) {
      const ul = el("ul", { class: "plan-list", id: "plan-unassigned" });
      for (const u of p.unassigned) {
        const j = jobOf(u.job_id);
        ul.append(el("li", null,
          el("div", { class: "plan-line" }, el("strong", null, u.code || (j ? j.code : "#" + u.job_id))),
          el("div", { class: "plan-what" }, OPT_REASON[u.reason] || u.reason)));
      }
      out.push(section("无法派工", ul));
    }
    body.replaceChildren(...out);
  }

  const aDialog = $("apply-dialog");
  function confirmApply() {
    const p = S.plan;
    if (!p || !p.assignments) return;
    $("apply-text").textContent = "将按预览为 " + p.assignments.length + " 个工单派工（总距离 " + Staff.km(p.total_distance_m) +
      "）。如果工单刚有变化，服务器会按最新情况重新计算。确认执行吗？";
    $("apply-error").hidden = true;
    aDialog.showModal();
    $("apply-confirm").focus();
  }
  $("apply-cancel").addEventListener("click", () => aDialog.close());
  $("apply-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const p = S.plan;
    if (!p) { aDialog.close(); return; }
    const btn = $("apply-confirm");
    btn.disabled = true;
    try {
      const body = { apply: true };
      if (p.region) body.region = p.region;
      const res = await Staff.api("POST", `${API}/dispatch/optimize`, body);
      aDialog.close();
      S.plan = { ...res, region: p.region, applied: true };
      renderPlan();
      planLayer.clearLayers();
      notice("已派工 " + (res.applied_count ?? res.assignments.length) + " 个工单。");
      // The feed brings these too; fetching them now shows them at once.
      await Promise.all(res.assignments.map((a) => fetchJob(a.job_id).catch(() => {})));
      refresh();
    } catch (err) {
      $("apply-error").textContent = err.message;
      $("apply-error").hidden = false;
    } finally {
      btn.disabled = false;
    }
  });

  // --- data ---------------------------------------------------------------------

  function upsert(job) {
    const old = S.jobs.get(job.id);
    if (old && old.updated_at && job.updated_at && Date.parse(old.updated_at) > Date.parse(job.updated_at)) return;
    if (!OPEN.has(job.status)) { removeJob(job.id); return; }
    S.jobs.set(job.id, job);
  }

  /** Forgets a job; its row leaves the list at the next refresh, which
   *  keeps the rows the dispatcher is looking at in place. */
  function removeJob(id) {
    S.jobs.delete(id);
  }

  async function fetchJob(id) {
    try {
      const job = await Staff.api("GET", `${API}/jobs/${id}`);
      upsert(job);
      return job;
    } catch (e) {
      if (e.status === 404) { removeJob(id); return null; }
      throw e;
    }
  }

  async function loadJobs(gen) {
    const all = [];
    let cursor = null;
    let summary = true;
    do {
      const q = `${API}/jobs?status=open&limit=500${summary ? "&summary=true" : ""}${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`;
      let page;
      try {
        page = await Staff.api("GET", q);
      } catch (e) {
        if (summary && e.status === 400 && !cursor) { summary = false; continue; }
        throw e;
      }
      if (gen !== S.gen) return;
      all.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    S.jobs.clear();
    for (const j of all) upsert(j);
  }

  async function loadStations() {
    let cursor = null;
    do {
      const page = await Staff.api("GET", `${API}/stations?limit=1000${cursor ? "&cursor=" + encodeURIComponent(cursor) : ""}`);
      for (const s of page.items) S.stations.set(s.id, s);
      cursor = page.next_cursor;
    } while (cursor);
  }

  async function loadTechnicians() {
    let r;
    try {
      r = await Staff.api("GET", `${API}/technicians${dayParam ? "?day=" + todayYmd() : ""}`);
    } catch (e) {
      if (!dayParam || e.status !== 400) throw e;
      dayParam = false;
      r = await Staff.api("GET", `${API}/technicians`);
    }
    for (const t of r.items) S.techs.set(t.id, t);
  }

  async function loadRegions() {
    const r = await Staff.api("GET", `${API}/regions`);
    for (const x of r.items) S.regions.set(x.code, x.name);
  }

  // --- the change feed ----------------------------------------------------------

  function setLive(state, text) {
    els.live.dataset.state = state;
    els.liveText.textContent = text;
  }

  async function applyChanges(changes) {
    const ids = [...new Set(changes.map((c) => c.job_id))];
    const last = new Map(changes.map((c) => [c.job_id, c]));
    const todo = [];
    for (const id of ids) {
      const c = last.get(id);
      // A job that left the open set leaves the board; no need to read it
      // unless the dispatcher is looking at it.
      if (c.status && !OPEN.has(c.status) && S.selected !== id) removeJob(id);
      else todo.push(id);
    }
    const results = new Map();
    for (let i = 0; i < todo.length; i += 6) {
      const part = todo.slice(i, i + 6);
      const got = await Promise.all(part.map((id) => fetchJob(id)));
      part.forEach((id, k) => results.set(id, got[k]));
    }
    if (S.selected != null && last.has(S.selected) && S.detail) {
      const j = results.get(S.selected);
      S.detail = j ? { ...S.detail, job: j } : { ...S.detail, gone: true };
      renderDetail();
    }
    if (S.selected != null && S.detail) refreshExtrasSoon();
    if (S.side === "plan" && S.plan && !S.plan.applied) renderPlan();
    refresh();
  }

  async function follow(gen, signal) {
    let delay = 1000;
    while (gen === S.gen) {
      try {
        const page = await Staff.api("GET", `${API}/jobs/changes?after=${S.cursor}&wait=25`, undefined, { signal });
        if (gen !== S.gen) return;
        if (page.changes.length) await applyChanges(page.changes);
        S.cursor = page.next;
        delay = 1000;
        setLive("ok", "实时 · " + clock.format(new Date()));
        document.body.dataset.feed = String(S.cursor);
      } catch (e) {
        if (gen !== S.gen || (e && e.name === "AbortError")) return;
        if (e.status === 401 || e.status === 403) { relogin(e); return; }
        setLive("retry", "连接中断，正在重试…");
        await sleep(delay);
        delay = Math.min(delay * 2, 15000);
      }
    }
  }

  function relogin(e) {
    S.gen += 1;
    if (S.feedAbort) S.feedAbort.abort();
    for (const d of document.querySelectorAll("dialog[open]")) d.close();
    $("app").hidden = true;
    $("login").hidden = false;
    const msg = $("login-error");
    msg.textContent = e.status === 403 ? "此令牌的角色不能使用本页。" : e.message;
    msg.hidden = false;
    if (e.status === 403) Staff.logout();
    $("login-token").focus();
  }

  // Every minute: clocks move on to warning and breached, and the list
  // reorders, without asking the server.
  setInterval(() => { if (S.jobs.size) refresh(); if (S.side === "job") renderDetail(); }, 60000);

  // --- narrow screens: the map on demand -----------------------------------------

  function setMapOpen(open) {
    els.board.classList.toggle("map-open", open);
    els.toggleMap.setAttribute("aria-expanded", String(open));
    els.toggleMap.textContent = open ? "隐藏地图" : "显示地图";
    if (open && map) {
      map.invalidateSize({ pan: false });
      if (S.needFit) fitJobs();
    }
  }

  /** The whole board in view; waits while the map is hidden (a phone). */
  function fitJobs() {
    const size = map.getSize();
    if (!size.x || !size.y) { S.needFit = true; return; }
    S.needFit = false;
    if (!S.jobs.size) { map.fitBounds(CHINA); return; }
    const b = L.latLngBounds([...S.jobs.values()].map((j) => [j.lat, j.lon]));
    map.fitBounds(b, { padding: [30, 30], maxZoom: 11 });
  }
  els.toggleMap.addEventListener("click", () => {
    const open = !els.board.classList.contains("map-open");
    setMapOpen(open);
    if (open) els.map.scrollIntoView({ block: "start" });
  });
  window.addEventListener("resize", () => { if (map) map.invalidateSize({ pan: false }); });

  // --- start ----------------------------------------------------------------------

  Staff.session(async () => {
    const gen = ++S.gen;
    if (S.feedAbort) S.feedAbort.abort();
    const abort = new AbortController();
    S.feedAbort = abort;
    setLive("connecting", "正在连接…");

    // Only a dispatcher (or an admin) may use the board.
    const me = await Staff.api("GET", `${API}/session`);
    if (me.role !== "dispatcher" && me.role !== "admin") {
      throw new Staff.ApiError(403, { error: { code: "forbidden", message: "wrong role" } });
    }
    // Follow the feed from now on, before reading the list, so nothing
    // that happens while the list loads is missed.
    const first = await Staff.api("GET", `${API}/jobs/changes?after=latest&wait=0`);
    S.cursor = first.next;
    initMap();
    S.jobs.clear();
    S.rows.clear();
    els.jobs.replaceChildren();
    await Promise.all([
      loadJobs(gen),
      loadTechnicians(),
      loadStations().catch(() => {}),
      loadRegions().catch(() => {}),
    ]);
    if (gen !== S.gen) return;
    fillStaticFilters();
    refresh();
    map.invalidateSize();
    if (S.first) fitJobs();
    S.first = false;
    document.body.dataset.ready = "true";
    setLive("ok", "实时 · " + clock.format(new Date()));
    follow(gen, abort.signal);
  });
})();
